package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/worker"
)

// liveCluster is a Cluster whose state changes while streams read it;
// with push set it also implements stateSubscriber.
type liveCluster struct {
	mu    sync.Mutex
	state *coordinator.ClusterState
	subs  []chan *coordinator.ClusterState
}

func (l *liveCluster) State() *coordinator.ClusterState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}
func (l *liveCluster) Leadership() coordinator.Leadership { return coordinator.Leadership{} }
func (l *liveCluster) Ready(context.Context) error        { return nil }

func (l *liveCluster) set(s *coordinator.ClusterState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state = s
	for _, ch := range l.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

type pushingCluster struct{ *liveCluster }

func (p pushingCluster) Subscribe() (<-chan *coordinator.ClusterState, func()) {
	ch := make(chan *coordinator.ClusterState, 1)
	p.mu.Lock()
	p.subs = append(p.subs, ch)
	p.mu.Unlock()
	return ch, func() {}
}

// eventServer serves s over HTTP; ended receives once per finished
// /cluster/events request, after its handler has returned.
func eventServer(t *testing.T, s *Server) (*httptest.Server, chan struct{}) {
	t.Helper()
	ended := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Handler().ServeHTTP(w, r)
		if r.URL.Path == "/cluster/events" {
			ended <- struct{}{}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ended
}

// sseReader reads events from a stream: (name, data) pairs, and comments
// as name ":".
type sseReader struct{ r *bufio.Reader }

func (s sseReader) next() (name, data string, err error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if name != "" || data != "" {
				return name, data, nil
			}
		case strings.HasPrefix(line, ":"):
			return ":", line, nil
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// until reads events until one satisfies ok, failing after timeout.
func (s sseReader) until(t *testing.T, timeout time.Duration, what string, ok func(name string, st *LiveStatus) bool) *LiveStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		name, data, err := s.next()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		var st *LiveStatus
		if name == "status" {
			st = &LiveStatus{}
			if err := json.Unmarshal([]byte(data), st); err != nil {
				t.Fatalf("status event is not JSON: %v: %s", err, data)
			}
		}
		if ok(name, st) {
			return st
		}
	}
	t.Fatalf("no %s within %s", what, timeout)
	return nil
}

func openStream(t *testing.T, ctx context.Context, url string) (*http.Response, sseReader) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/cluster/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /cluster/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp, sseReader{bufio.NewReader(resp.Body)}
}

func hostPort(t *testing.T, rawURL string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

func TestClusterEventsStream(t *testing.T) {
	for _, push := range []bool{true, false} {
		t.Run(map[bool]string{true: "pushed changes", false: "polled changes"}[push], func(t *testing.T) {
			lc := &liveCluster{}
			var cluster Cluster = lc
			if push {
				cluster = pushingCluster{lc}
			}
			s, err := New(Config{NodeID: "n1", Cluster: cluster, Pool: worker.NewPool(1, 1, nil), AdminToken: testToken})
			if err != nil {
				t.Fatal(err)
			}
			srv, ended := eventServer(t, s)
			ip, port := hostPort(t, srv.URL)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, events := openStream(t, ctx, srv.URL)
			defer resp.Body.Close()

			// No state yet: heartbeats.
			events.until(t, 3*time.Second, "a heartbeat", func(name string, _ *LiveStatus) bool { return name == ":" })

			state := func(rev int64, leader string) *coordinator.ClusterState {
				return &coordinator.ClusterState{LeaderID: leader, Epoch: rev, Term: 3, Revision: rev, Nodes: []coordinator.NodeStatus{
					{NodeInfo: coordinator.NodeInfo{ID: "n1", IP: ip, HTTPPort: port}, Role: coordinator.RoleLeader, Healthy: true},
					{NodeInfo: coordinator.NodeInfo{ID: "n2"}, Role: coordinator.RoleFollower},
				}}
			}
			lc.set(state(5, "n1"))
			st := events.until(t, 3*time.Second, "the first state", func(_ string, st *LiveStatus) bool { return st != nil })
			if st.LeaderID != "n1" || st.Epoch != 5 || st.ServedBy != "n1" || len(st.Nodes) != 2 {
				t.Fatalf("first event: %+v", st)
			}
			// Probes: this node answers; n2 has no address.
			st = events.until(t, 3*time.Second, "probe results", func(_ string, st *LiveStatus) bool {
				return st != nil && len(st.Probes) == 2
			})
			if p := st.Probes["n1"]; !p.Reachable || p.Status != 200 {
				t.Errorf("probe of the serving node: %+v", p)
			}
			if p := st.Probes["n2"]; p.Reachable || p.Error == "" {
				t.Errorf("probe of an unregistered node: %+v", p)
			}

			// A change is pushed within a check interval, long before the
			// once-a-second refresh would carry it.
			start := time.Now()
			lc.set(state(6, "n2"))
			events.until(t, 3*time.Second, "the changed state", func(_ string, st *LiveStatus) bool { return st != nil && st.LeaderID == "n2" })
			if took := time.Since(start); took > 700*time.Millisecond {
				t.Errorf("a change took %s to arrive", took)
			}
			// Unchanged state is still repeated at least every second.
			start = time.Now()
			events.until(t, 3*time.Second, "a repeat", func(_ string, st *LiveStatus) bool { return st != nil })
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("%s between events of an unchanged state", took)
			}

			// The client leaves: the handler (and its probe goroutine, which
			// it waits for) ends.
			cancel()
			select {
			case <-ended:
			case <-time.After(2 * time.Second):
				t.Fatal("the stream's handler still runs after the client left")
			}
		})
	}
}

func TestClusterEventsEndWhenDraining(t *testing.T) {
	lc := &liveCluster{}
	lc.set(&coordinator.ClusterState{LeaderID: "n1", Revision: 1})
	s, err := New(Config{NodeID: "n1", Cluster: lc, Pool: worker.NewPool(1, 1, nil), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv, ended := eventServer(t, s)
	resp, events := openStream(t, context.Background(), srv.URL)
	defer resp.Body.Close()
	events.until(t, 3*time.Second, "a status", func(_ string, st *LiveStatus) bool { return st != nil })

	s.Drain()
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("the stream did not end when the node started draining")
	}
	r2, err := http.Get(srv.URL + "/cluster/events")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(r2.Body).Decode(&body)
	if r2.StatusCode != http.StatusServiceUnavailable || body["code"] != codeDraining {
		t.Fatalf("a new stream on a draining node: %d %v, want 503 draining", r2.StatusCode, body)
	}
}

func TestProbeTimesOutOnASilentNode(t *testing.T) {
	// A listener that accepts and never answers, like a frozen process.
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
	ip, port := hostPort(t, "http://"+ln.Addr().String())
	out := make(chan map[string]NodeProbe, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runProbes(ctx, probeTiming{every: 50 * time.Millisecond, timeout: 200 * time.Millisecond},
			func() []probeTarget { return []probeTarget{{ID: "frozen", IP: ip, Port: port}} }, out)
	}()
	start := time.Now()
	round := <-out
	if p := round["frozen"]; p.Reachable || time.Since(start) > time.Second {
		t.Errorf("frozen node: %+v after %s", p, time.Since(start))
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("runProbes did not return after its context ended")
	}
}
