package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// Node is a stegocluster node's coordination, and its one public
// surface: the embedded etcd member (a worker's client of the members),
// the election, the registry entry, the state publisher and watcher, the
// prober and failure detector, and the node's fault switches. Its
// methods are safe for concurrent use.
type Node struct {
	cfg       Config
	log       *slog.Logger
	client    *clientv3.Client // the member's own client, or a worker's client of the members
	member    *member          // nil on a worker
	elector   *elector         // nil on a worker
	publisher *publisher       // nil on a worker
	registry  *registry
	watcher   *stateWatcher // the published state: members only
	workers   *workerList
	status    latest[*wire.ClusterState] // the published state with the workers added: what the node serves
	prober    *prober
	started   time.Time

	paused   atomic.Bool // fault injection: Pause until Resume
	resigned atomic.Bool // Resign: never campaign again

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start starts the etcd member (waiting for it to be ready: see
// MemberConfig.ReadyTimeout) and then the node's loops. Zero fields of
// cfg take their value from DefaultConfig. The loops run until Close;
// ctx only bounds the start.
//
// A worker (cfg.Role) starts no member: it connects to the members at
// cfg.Endpoints (without waiting for them: it serves stego work even
// with none reachable) and runs only the registry, the state watcher
// and the prober.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "coordinator")
	probe := cfg.Probe
	if probe == nil {
		probe = HTTPProbe(cfg.SuspectSlowAfter)
	}
	n := &Node{cfg: cfg, log: log, started: time.Now(), prober: newProber(probe)}
	if cfg.Role == RoleWorker {
		if err := n.startWorker(ctx); err != nil {
			return nil, err
		}
		return n, nil
	}
	member, err := startMember(ctx, cfg.Member, log)
	if err != nil {
		return nil, err
	}
	client := member.Client()
	n.client, n.member = client, member
	n.watcher = &stateWatcher{client: client, log: log}
	n.registry = &registry{client: client, key: NodeKey(cfg.Member.Name), log: log, ttl: int64(cfg.RegistryTTL), interval: cfg.RegistryEvery}
	n.workers = newWorkerList(client, log, true, cfg.RegistryEvery, nil)
	var held int64 // the epoch led, for the log line of its end (onChange runs on one goroutine)
	n.elector = newElector(client, electorConfig{
		nodeID:         cfg.Member.Name,
		leaseTTL:       time.Duration(cfg.LeaseTTL) * time.Second,
		keepAliveEvery: cfg.KeepAliveEvery,
		onChange: func(l Leadership) {
			if !l.IsLeader {
				log.Info("leadership changed", "leader", false, "epoch_given_up", held)
				held = 0
				return
			}
			held = l.Epoch
			log.Info("leadership changed", "leader", true, "epoch", l.Epoch)
			n.publisher.Kick()
		},
	}, log)
	n.publisher = newPublisher(member, n.elector, n.prober, log, cfg.Member.Name, cfg.PublishEvery)
	detector := newFailureDetector(client, n.elector, n.prober, log, cfg.ProbeEvery, cfg.SuspectAfter, cfg.SuspectSlowAfter)
	n.run(ctx, map[string]func(context.Context) error{
		"election":         n.elector.Run,
		"publisher":        n.publisher.Run,
		"failure detector": detector.Run,
	})
	return n, nil
}

// run starts the loops every node runs, and extra, until Close.
func (n *Node) run(ctx context.Context, extra map[string]func(context.Context) error) {
	loops := map[string]func(context.Context) error{
		"state watcher": n.watcher.Run,
		"worker list":   n.workers.Run,
		"status":        n.serveStatus,
		"registry":      func(ctx context.Context) error { return n.registry.Run(ctx, n.info) },
		"prober": func(ctx context.Context) error {
			n.prober.sweep(ctx, sweepPlan{every: n.cfg.SweepEvery, timeout: n.cfg.SweepTimeout, maxWorkers: n.cfg.SweepWorkers, targets: n.sweepTargets})
			return nil
		},
	}
	maps.Copy(loops, extra)
	// The loops get a context of their own: Close, not the caller's ctx,
	// ends them, so that shutdown happens in order.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	for name, run := range loops {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := run(runCtx); err != nil {
				n.log.Error("coordination loop stopped", "loop", name, "err", err)
			}
		}()
	}
}

// info is this node's registry entry.
func (n *Node) info() wire.NodeInfo {
	info := wire.NodeInfo{
		ID:        n.cfg.Member.Name,
		IP:        n.cfg.AdvertiseIP,
		HTTPPort:  n.cfg.HTTPPort,
		Version:   n.cfg.Version,
		StartedAt: n.started.UTC(),
		Paused:    n.Paused(),
		Worker:    n.member == nil,
	}
	if n.member != nil {
		_, info.RaftPort = hostPort(n.cfg.Member.PeerURL)
	}
	if n.cfg.Metrics != nil {
		info.NodeMetrics = n.cfg.Metrics()
	}
	return info
}

// workerMergeGap spaces out the rebuilds of the served state that the
// workers' refreshes cause: with many workers they arrive all the time,
// and each rebuild copies the whole list.
const workerMergeGap = 250 * time.Millisecond

// serveStatus keeps n.status: the published state with the workers
// added. A new published state is served at once (failover is timed by
// it); a change of the workers at most every workerMergeGap.
func (n *Node) serveStatus(ctx context.Context) error {
	states, unsubscribe := n.watcher.state.Subscribe()
	defer unsubscribe()
	var (
		lastMerge time.Time
		pending   <-chan time.Time
	)
	merge := func() {
		n.status.publishIf(withWorkers(n.watcher.state.Current(), n.workers.Workers()), nil)
		lastMerge, pending = time.Now(), nil
	}
	merge()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-states:
			merge()
		case <-n.workers.Changed():
			if wait := workerMergeGap - time.Since(lastMerge); wait > 0 {
				if pending == nil {
					pending = time.After(wait)
				}
				continue
			}
			merge()
		case <-pending:
			merge()
		}
	}
}

// withWorkers is the published state s with the workers' entries added
// as Worker nodes, or nil before a state was published.
func withWorkers(s *wire.ClusterState, workers []wire.NodeInfo) *wire.ClusterState {
	if s == nil {
		return nil
	}
	out := *s
	out.Nodes = make([]wire.NodeStatus, 0, len(s.Nodes)+len(workers))
	out.Nodes = append(out.Nodes, s.Nodes...)
	for _, w := range workers {
		out.Nodes = append(out.Nodes, wire.NodeStatus{NodeInfo: w, Role: wire.RoleWorker, Healthy: !w.Paused})
	}
	slices.SortFunc(out.Nodes, func(a, b wire.NodeStatus) int { return strings.Compare(a.ID, b.ID) })
	return &out
}

// sweepTargets are the nodes of the current state.
func (n *Node) sweepTargets() []wire.NodeInfo {
	st := n.status.Current()
	if st == nil {
		return nil
	}
	out := make([]wire.NodeInfo, len(st.Nodes))
	for i, s := range st.Nodes {
		out[i] = s.NodeInfo
	}
	return out
}

// ID is the node's id (a member's etcd member name).
func (n *Node) ID() string { return n.cfg.Member.Name }

// Leadership is this node's own view of its role (a worker never leads).
func (n *Node) Leadership() Leadership {
	if n.elector == nil {
		return Leadership{}
	}
	return n.elector.Leadership()
}

// LeadershipChanges counts the times this node won or lost leadership.
func (n *Node) LeadershipChanges() uint64 {
	if n.elector == nil {
		return 0
	}
	return n.elector.changeCount()
}

// State is the latest published cluster state with the workers added, or
// nil before one was published. Callers must not modify it.
func (n *Node) State() *wire.ClusterState {
	n.workers.Want()
	return n.status.Current()
}

// Subscribe returns a channel that receives each new cluster state (only
// the latest, if the reader falls behind) and a function to unsubscribe.
func (n *Node) Subscribe() (<-chan *wire.ClusterState, func()) {
	n.workers.Want()
	return n.status.Subscribe()
}

// SubscribeProbes returns a channel that receives this node's latest
// probe of every node's /healthz, keyed by node id, after each sweep
// (Config.SweepEvery), and a function to unsubscribe. Every subscriber
// shares the same probes; none run while nobody is subscribed.
func (n *Node) SubscribeProbes() (<-chan map[string]wire.NodeProbe, func()) {
	return n.prober.Subscribe()
}

// Ready returns nil when the node's etcd client gets linearizable reads:
// a member is part of a quorum; a worker reaches a member that is. A
// worker that does not is degraded, not unready: the error wraps
// ErrDegraded, because it still serves stego work, which needs no
// coordination.
func (n *Node) Ready(ctx context.Context) error {
	if _, err := n.client.Get(ctx, StateKey); err != nil {
		if n.member == nil {
			return fmt.Errorf("%w: no etcd member answers: %w", ErrDegraded, err)
		}
		return fmt.Errorf("coordinator: linearizable read failed: %w", err)
	}
	return nil
}

// Err delivers fatal errors of the etcd member's servers; a worker has
// none (the channel never delivers).
func (n *Node) Err() <-chan error {
	if n.member == nil {
		return nil
	}
	return n.member.Err()
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
		if n.member != nil {
			n.member.Close()
		} else {
			n.client.Close()
		}
	})
	return err
}

// exit ends the process (Crash).
func (n *Node) exit(code int) {
	if n.cfg.Exit != nil {
		n.cfg.Exit(code)
		return
	}
	os.Exit(code)
}
