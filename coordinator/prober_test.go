package coordinator

import (
	"context"
	"errors"
	"net"
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
		p.sweep(ctx, 20*time.Millisecond, 100*time.Millisecond, func() []wire.NodeInfo { return nodes })
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
		p.sweep(ctx, 100*time.Millisecond, time.Second, func() []wire.NodeInfo { return []wire.NodeInfo{{ID: "leader"}, {ID: "b"}} })
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
