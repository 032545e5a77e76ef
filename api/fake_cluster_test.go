package api

import (
	"context"
	"sync"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/wire"
)

// fakeCluster is the API's one test double of the node's coordination:
// state and probe rounds are set by the test and pushed to subscribers
// the way coordinator.Node pushes them.
type fakeCluster struct {
	mu        sync.Mutex
	state     *wire.ClusterState
	stateSubs map[chan *wire.ClusterState]struct{}
	probeSubs map[chan map[string]wire.NodeProbe]struct{}
	leader    coordinator.Leadership
	changes   uint64
	notReady  error  // Ready's answer
	degraded  string // Degraded's answer
	paused    bool
	crashed   chan struct{} // receives once per CrashSoon
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{
		stateSubs: map[chan *wire.ClusterState]struct{}{},
		probeSubs: map[chan map[string]wire.NodeProbe]struct{}{},
		crashed:   make(chan struct{}, 4),
	}
}

func (f *fakeCluster) State() *wire.ClusterState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// setState publishes a new state to State and every subscriber.
func (f *fakeCluster) setState(s *wire.ClusterState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = s
	for ch := range f.stateSubs {
		replaceLatest(ch, s)
	}
}

// setProbes publishes a probe round to every subscriber.
func (f *fakeCluster) setProbes(round map[string]wire.NodeProbe) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.probeSubs {
		replaceLatest(ch, round)
	}
}

func replaceLatest[T any](ch chan T, v T) {
	select {
	case <-ch:
	default:
	}
	ch <- v
}

func (f *fakeCluster) Subscribe() (<-chan *wire.ClusterState, func()) {
	return subscribe(f, f.stateSubs)
}

func (f *fakeCluster) SubscribeProbes() (<-chan map[string]wire.NodeProbe, func()) {
	return subscribe(f, f.probeSubs)
}

// subscriptions counts the open state and probe subscriptions.
func (f *fakeCluster) subscriptions() (states, probes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stateSubs), len(f.probeSubs)
}

func subscribe[T any](f *fakeCluster, subs map[chan T]struct{}) (<-chan T, func()) {
	ch := make(chan T, 1)
	f.mu.Lock()
	subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(subs, ch)
		f.mu.Unlock()
	}
}

func (f *fakeCluster) setLeadership(l coordinator.Leadership) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leader = l
	f.changes++
}

func (f *fakeCluster) Leadership() coordinator.Leadership {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}

func (f *fakeCluster) LeadershipChanges() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes
}

func (f *fakeCluster) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notReady
}

func (f *fakeCluster) Degraded() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded
}

func (f *fakeCluster) Pause()  { f.setPaused(true) }
func (f *fakeCluster) Resume() { f.setPaused(false) }

func (f *fakeCluster) setPaused(p bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = p
}

func (f *fakeCluster) Paused() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused
}

func (f *fakeCluster) CrashSoon() { f.crashed <- struct{}{} }
