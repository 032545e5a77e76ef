package coordinator

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// freezableProxy forwards TCP connections to target; while frozen it
// moves no bytes either way but keeps every connection open: what a
// member stopped with SIGSTOP, or cut off by a dropped link, looks like
// to its clients.
type freezableProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	thawed *sync.Cond
	frozen bool
}

func newFreezableProxy(t *testing.T, target string) *freezableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezableProxy{ln: ln}
	p.thawed = sync.NewCond(&p.mu)
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Add(2)
			go func() { defer conns.Done(); p.pipe(c, u) }()
			go func() { defer conns.Done(); p.pipe(u, c) }()
		}
	}()
	t.Cleanup(func() {
		p.freeze(false)
		ln.Close()
		conns.Wait() // every pipe ends once its client has closed
	})
	return p
}

func (p *freezableProxy) freeze(frozen bool) {
	p.mu.Lock()
	p.frozen = frozen
	p.mu.Unlock()
	p.thawed.Broadcast()
}

func (p *freezableProxy) waitThawed() {
	p.mu.Lock()
	for p.frozen {
		p.thawed.Wait()
	}
	p.mu.Unlock()
}

func (p *freezableProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		p.waitThawed()
		n, err := src.Read(buf)
		p.waitThawed()
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestWorkerLeavesAFrozenMember: a member that stops answering a worker
// but keeps its connection open (frozen, or its link dropped) while two
// healthy members remain. The worker must move to another member: keep
// following the published state and keep its registry entry. Without
// keepalive pings its connection stayed "ready" forever and every call
// on it hung: the worker served a stale state and fell out of the
// leader's status for as long as the member was frozen.
func TestWorkerLeavesAFrozenMember(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(20 * time.Second)
	c.waitState(leader, 3, 10*time.Second)
	var proxies []*freezableProxy
	var endpoints []string
	for _, cfg := range c.configs {
		p := newFreezableProxy(t, strings.TrimPrefix(cfg.Member.ClientURL, "http://"))
		proxies = append(proxies, p)
		endpoints = append(endpoints, "http://"+p.ln.Addr().String())
	}
	w, err := Start(context.Background(), Config{
		Role: RoleWorker, Endpoints: endpoints, Member: MemberConfig{Name: "worker1"},
		RegistryEvery: 200 * time.Millisecond, WorkerRegistryEvery: 200 * time.Millisecond, WorkerRegistryTTL: 2,
		Version: "test", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range proxies {
			p.freeze(false)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Errorf("close the worker: %v", err)
		}
	}()
	healthy := func() bool {
		s, l := w.State(), c.nodes[leader].State()
		return s != nil && time.Since(s.UpdatedAt) < 1500*time.Millisecond && w.Degraded() == "" && l != nil && l.Node("worker1") != nil
	}
	testenv.WaitFor(t, 10*time.Second, "the worker to follow the state and register", healthy)
	for i, p := range proxies {
		p.freeze(true)
		time.Sleep(time.Second) // long enough for a stale state to show
		// Pings every 5 s, answered within 2: the worker moves within
		// about 7 s plus the time to reconnect and catch up.
		testenv.WaitFor(t, 20*time.Second, "the worker to be healthy again with member "+string(rune('1'+i))+" frozen", healthy)
		p.freeze(false)
	}
}
