package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// countingProbe answers for every node but "frozen", which never
// answers, and counts the probes per node.
type countingProbe struct {
	mu    sync.Mutex
	count map[string]int
}

func (c *countingProbe) probe(ctx context.Context, n wire.NodeInfo) (int, error) {
	c.mu.Lock()
	c.count[n.ID]++
	c.mu.Unlock()
	if n.ID == "frozen" {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return 200, nil
}

func (c *countingProbe) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.count {
		n += v
	}
	return n
}

// One prober serves every subscriber: its sweeps probe each node once a
// round however many streams listen, run only while someone listens,
// and bound a frozen node's probe by the timeout.
func TestProberSweepsAreSharedAndOnlyWhileSubscribed(t *testing.T) {
	cp := &countingProbe{count: map[string]int{}}
	p := newProber(cp.probe)
	nodes := []wire.NodeInfo{{ID: "a"}, {ID: "b"}, {ID: "frozen"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.sweep(ctx, sweepPlan{every: 20 * time.Millisecond, timeout: 100 * time.Millisecond, maxWorkers: 16, targets: func() []wire.NodeInfo { return nodes }})
	}()
	defer func() {
		cancel()
		<-done
	}()

	time.Sleep(200 * time.Millisecond)
	if n := cp.total(); n != 0 {
		t.Fatalf("%d probes while nobody was subscribed", n)
	}

	const subscribers = 50
	var chans []<-chan map[string]wire.NodeProbe
	for range subscribers {
		ch, unsubscribe := p.Subscribe()
		defer unsubscribe()
		chans = append(chans, ch)
	}
	start := time.Now()
	for i, ch := range chans {
		select {
		case round := <-ch:
			if len(round) != 3 || !round["a"].Reachable || round["a"].Status != 200 || round["frozen"].Reachable || round["frozen"].Error == "" {
				t.Fatalf("subscriber %d got %+v", i, round)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("subscriber %d got no round", i)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a round with a frozen node took %s; its probe should give up after 100 ms", took)
	}
	// Each round probes each node once, whatever the number of
	// subscribers: after a few rounds, far fewer probes than subscribers.
	time.Sleep(150 * time.Millisecond)
	if n := cp.total(); n == 0 || n > 3*20 {
		t.Fatalf("%d probes for %d subscribers over a few rounds", n, subscribers)
	}
}

// A node probed a moment ago (the leader, by the failure detector) is
// not probed again by the sweep: its fresh result is shared.
func TestProberSweepReusesFreshResults(t *testing.T) {
	cp := &countingProbe{count: map[string]int{}}
	p := newProber(cp.probe)
	ch, unsubscribe := p.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.sweep(ctx, sweepPlan{every: 100 * time.Millisecond, timeout: time.Second, maxWorkers: 16, targets: func() []wire.NodeInfo { return []wire.NodeInfo{{ID: "leader"}, {ID: "b"}} }})
	}()
	external := 0
	go func() { // the failure detector's probes of the leader
		defer wg.Done()
		for ctx.Err() == nil {
			_ = p.Probe(ctx, wire.NodeInfo{ID: "leader"})
			external++
			time.Sleep(10 * time.Millisecond)
		}
	}()
	for range 3 {
		if round := <-ch; len(round) != 2 {
			t.Fatalf("round: %+v", round)
		}
	}
	cancel()
	wg.Wait()
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.count["leader"] != external || cp.count["b"] < 3 {
		t.Fatalf("leader probed %d times (%d by the detector), b %d times", cp.count["leader"], external, cp.count["b"])
	}
}

// The real HTTP probe of a listener that accepts and never answers (a
// frozen process) fails within the probe's context, without proof that
// the node is down.
func TestHTTPProbeOfAFrozenNodeTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	n := nodeAt(t, "http://"+ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = HTTPProbe(time.Second)(ctx, n)
	if err == nil || errors.Is(err, ErrNodeDown) || time.Since(start) > time.Second {
		t.Fatalf("probe of a frozen node: %v after %s", err, time.Since(start))
	}
}

// A sweep probes every member each round but at most maxWorkers workers,
// the least recently probed: a stream watching thousands of workers
// costs a bounded number of probes a round, and each worker's turn comes
// round-robin.
func TestProberSweepBoundsWorkerProbes(t *testing.T) {
	const members, workers, maxWorkers = 3, 40, 8
	var nodes []wire.NodeInfo
	for i := range members {
		nodes = append(nodes, wire.NodeInfo{ID: fmt.Sprintf("m%d", i)})
	}
	for i := range workers {
		nodes = append(nodes, wire.NodeInfo{ID: fmt.Sprintf("w%02d", i), Worker: true})
	}
	cp := &countingProbe{count: map[string]int{}}
	p := newProber(cp.probe)
	ch, unsubscribe := p.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.sweep(ctx, sweepPlan{every: 20 * time.Millisecond, timeout: 100 * time.Millisecond, maxWorkers: maxWorkers, targets: func() []wire.NodeInfo { return slices.Clone(nodes) }})
	}()
	for range 12 {
		<-ch
	}
	cancel()
	<-done

	cp.mu.Lock()
	defer cp.mu.Unlock()
	rounds := cp.count["m0"]
	for i := range members {
		if c := cp.count[fmt.Sprintf("m%d", i)]; c != rounds {
			t.Errorf("member m%d probed %d times, m0 %d: every member is probed every round", i, c, rounds)
		}
	}
	total, least, most := 0, rounds, 0
	for i := range workers {
		c := cp.count[fmt.Sprintf("w%02d", i)]
		total += c
		least, most = min(least, c), max(most, c)
	}
	if total != maxWorkers*rounds {
		t.Errorf("%d worker probes in %d rounds, want %d a round", total, rounds, maxWorkers)
	}
	if rounds < 12 || most-least > 1 {
		t.Errorf("%d rounds; workers probed between %d and %d times each, want round-robin (a spread of at most 1)", rounds, least, most)
	}
}
