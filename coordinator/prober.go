package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// prober is the node's one prober of other nodes' /healthz. The failure
// detector's probes of the leader, the publisher's check before it moves
// raft leadership, and the rounds of every node that event streams show
// all go through it, so one node makes one set of probes however many
// streams are open, and every reader sees the same results.
type prober struct {
	probe ProbeFunc
	mu    sync.Mutex
	seen  map[string]wire.NodeProbe // the latest result per node id
	// rounds carries a copy of seen after each sweep, to subscribers.
	rounds latest[map[string]wire.NodeProbe]
}

func newProber(probe ProbeFunc) *prober {
	return &prober{probe: probe, seen: map[string]wire.NodeProbe{}}
}

// Probe probes n once, records the result and returns the probe's error.
func (p *prober) Probe(ctx context.Context, n wire.NodeInfo) error {
	status, err := p.probe(ctx, n)
	result := wire.NodeProbe{Reachable: err == nil, Status: status, CheckedAt: time.Now().UTC()}
	if err != nil {
		result.Error = err.Error()
	}
	if n.ID != "" {
		p.mu.Lock()
		p.seen[n.ID] = result
		p.mu.Unlock()
	}
	return err
}

// Subscribe returns a channel that receives the latest result for every
// node after each sweep, and a function to unsubscribe. Sweeps run only
// while someone is subscribed.
func (p *prober) Subscribe() (<-chan map[string]wire.NodeProbe, func()) {
	return p.rounds.Subscribe()
}

// sweep probes, every `every`, each node that targets returns, all at
// once and each within timeout, and hands the results to subscribers. A
// node probed within the last half interval (the leader, by the failure
// detector; not by the previous sweep, which is a whole interval old) is
// not probed again: its fresh result is shared. It skips rounds while nobody is subscribed and
// returns when ctx ends.
func (p *prober) sweep(ctx context.Context, every, timeout time.Duration, targets func() []wire.NodeInfo) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if p.rounds.subscribers() == 0 {
			continue
		}
		nodes := targets()
		live := make(map[string]bool, len(nodes))
		var wg sync.WaitGroup
		for _, n := range nodes {
			live[n.ID] = true
			if p.fresh(n.ID, every/2) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				_ = p.Probe(pctx, n) // recorded; the round reports it
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		p.rounds.publishIf(p.snapshot(live), nil)
	}
}

// fresh: node id was probed less than d ago.
func (p *prober) fresh(id string, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.seen[id]
	return ok && time.Since(r.CheckedAt) < d
}

// snapshot copies the results of the live nodes and forgets the others.
func (p *prober) snapshot(live map[string]bool) map[string]wire.NodeProbe {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]wire.NodeProbe, len(live))
	for id, r := range p.seen {
		if live[id] {
			out[id] = r
		} else {
			delete(p.seen, id)
		}
	}
	return out
}
