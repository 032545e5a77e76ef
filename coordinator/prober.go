package coordinator

import (
	"context"
	"slices"
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

// sweepPlan says what a sweep probes: every `every`, each node targets
// returns, all at once and each within timeout — but at most maxWorkers
// workers a round, those whose results are oldest (never probed first).
// Members are few and are what people watch elections on; workers can
// be thousands, and probing each every round would cost a node watched
// by one stream thousands of probes a second. With maxWorkers or fewer
// workers every worker is probed every round; with W more, each is
// probed every ⌈W/maxWorkers⌉ rounds and its result's CheckedAt says
// how old it is.
type sweepPlan struct {
	every, timeout time.Duration
	maxWorkers     int
	targets        func() []wire.NodeInfo
}

// sweep probes what plan says and hands the results to subscribers. A
// node probed within the last half interval (the leader, by the failure
// detector; not by the previous sweep, which is a whole interval old) is
// not probed again: its fresh result is shared. It skips rounds while
// nobody is subscribed and returns when ctx ends.
func (p *prober) sweep(ctx context.Context, plan sweepPlan) {
	ticker := time.NewTicker(plan.every)
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
		nodes := plan.targets()
		live := make(map[string]bool, len(nodes))
		var members, workers []wire.NodeInfo
		for _, n := range nodes {
			live[n.ID] = true
			switch {
			case p.fresh(n.ID, plan.every/2):
			case n.Worker:
				workers = append(workers, n)
			default:
				members = append(members, n)
			}
		}
		var wg sync.WaitGroup
		for _, n := range append(members, p.stalest(workers, plan.maxWorkers)...) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, plan.timeout)
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

// stalest returns the n nodes of ns whose results are oldest, those never
// probed first; all of ns when it has no more than n.
func (p *prober) stalest(ns []wire.NodeInfo, n int) []wire.NodeInfo {
	if len(ns) <= n {
		return ns
	}
	p.mu.Lock()
	checked := make(map[string]time.Time, len(ns))
	for _, node := range ns {
		checked[node.ID] = p.seen[node.ID].CheckedAt // zero if never probed
	}
	p.mu.Unlock()
	slices.SortFunc(ns, func(a, b wire.NodeInfo) int { return checked[a.ID].Compare(checked[b.ID]) })
	return ns[:n]
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
