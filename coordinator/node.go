package coordinator

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Config is everything a node's coordination needs.
type Config struct {
	Member         MemberConfig
	LeaseTTL       int           // election lease, seconds (1)
	KeepAliveEvery time.Duration // election lease renewal (50 ms)
	PublishEvery   time.Duration // leader's state refresh (1 s)
	RegistryEvery  time.Duration // registry refresh (1 s)
	RegistryTTL    int64         // registry lease, seconds (2)
	// Fast failover (failover.go): followers probe the leader every
	// ProbeEvery (50 ms) and revoke its lease after SuspectAfter (150 ms)
	// without an answer once a probe proved it down (refused or reset),
	// or after SuspectSlowAfter (400 ms) without an answer at all. Prober
	// defaults to HTTP GET /healthz on the address in the leader's
	// registry entry.
	ProbeEvery          time.Duration
	SuspectAfter        time.Duration
	SuspectSlowAfter    time.Duration
	Prober              Prober
	DisableFastFailover bool
	// OnDepose is called when this node deposed a silent leader.
	OnDepose func(leaderID string, silentFor time.Duration)
	// OnLeadership is called on every change of this node's leadership.
	OnLeadership func(Leadership)
}

// Node runs a node's coordination: the etcd member, the election, the
// registry entry, the state publisher and the state watcher.
type Node struct {
	Member    *Member
	Elector   *Elector
	Publisher *Publisher
	Watcher   *StateWatcher

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start starts the member (waiting for it to be ready, see StartMember)
// and then the node's loops. info supplies the registry entry; it is
// called from the registry's goroutine about once a second.
func Start(ctx context.Context, cfg Config, info func() NodeInfo) (*Node, error) {
	member, err := StartMember(ctx, cfg.Member)
	if err != nil {
		return nil, err
	}
	if cfg.PublishEvery <= 0 {
		cfg.PublishEvery = time.Second
	}
	if cfg.RegistryEvery <= 0 {
		cfg.RegistryEvery = time.Second
	}
	if cfg.RegistryTTL <= 0 {
		cfg.RegistryTTL = 2
	}
	client := member.Client()
	n := &Node{Member: member, Watcher: NewStateWatcher(client)}
	n.Elector = NewElector(client, ElectorConfig{
		NodeID:         cfg.Member.Name,
		LeaseTTL:       cfg.LeaseTTL,
		KeepAliveEvery: cfg.KeepAliveEvery,
		OnChange: func(l Leadership) {
			if l.IsLeader {
				n.Publisher.Kick()
			}
			if cfg.OnLeadership != nil {
				cfg.OnLeadership(l)
			}
		},
	})
	n.Publisher = NewPublisher(member, n.Elector, cfg.Member.Name, cfg.PublishEvery)
	registry := NewRegistry(client, cfg.RegistryTTL, cfg.RegistryEvery)
	loops := []func(context.Context) error{
		n.Elector.Run,
		n.Publisher.Run,
		n.Watcher.Run,
		func(ctx context.Context) error { return registry.Run(ctx, info) },
	}
	if !cfg.DisableFastFailover {
		if cfg.ProbeEvery <= 0 {
			cfg.ProbeEvery = 50 * time.Millisecond
		}
		if cfg.SuspectAfter <= 0 {
			cfg.SuspectAfter = 150 * time.Millisecond
		}
		if cfg.SuspectSlowAfter <= 0 {
			cfg.SuspectSlowAfter = 400 * time.Millisecond
		}
		if cfg.Prober == nil {
			cfg.Prober = HTTPProber(cfg.SuspectSlowAfter)
		}
		n.Publisher.Probe = cfg.Prober
		d := NewFailureDetector(client, n.Elector, cfg.Prober, cfg.ProbeEvery, cfg.SuspectAfter, cfg.SuspectSlowAfter)
		d.OnRevoke = cfg.OnDepose
		loops = append(loops, d.Run)
	}

	// The loops get a context of their own: Close, not the caller's ctx,
	// ends them, so that shutdown happens in order.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	for _, run := range loops {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			_ = run(runCtx)
		}()
	}
	return n, nil
}

// Close resigns leadership, removes the registry entry, stops every loop
// and then the etcd member. It waits for all of it, or until ctx ends
// (then the member is closed anyway and ctx.Err() returned).
func (n *Node) Close(ctx context.Context) error {
	var err error
	n.once.Do(func() {
		n.cancel()
		done := make(chan struct{})
		go func() {
			n.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		n.Member.Close()
	})
	return err
}

// Healthy reports whether the member can serve a linearizable read.
func (n *Node) Healthy(ctx context.Context) error {
	_, err := n.Member.Client().Get(ctx, StateKey)
	if err != nil {
		return errors.Join(errors.New("coordinator: linearizable read failed"), err)
	}
	return nil
}
