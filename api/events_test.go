package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/wire"
	"github.com/stegocluster/stegocluster/worker"
)

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
type sseReader struct {
	r    *bufio.Reader
	body io.Closer // closed to end a read that waits past until's timeout
}

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
func (s sseReader) until(t *testing.T, timeout time.Duration, what string, ok func(name string, st *wire.LiveStatus) bool) *wire.LiveStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	// A stream that stops sending would block next() for good: the test
	// must fail at the timeout, not hang until go test's own.
	timer := time.AfterFunc(timeout, func() { s.body.Close() })
	defer timer.Stop()
	for time.Now().Before(deadline) {
		name, data, err := s.next()
		if err != nil {
			t.Fatalf("waiting for %s (at most %s): %v", what, timeout, err)
		}
		var st *wire.LiveStatus
		if name == "status" {
			st = &wire.LiveStatus{}
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
	return resp, sseReader{bufio.NewReader(resp.Body), resp.Body}
}

func TestClusterEventsStream(t *testing.T) {
	fc := newFakeCluster()
	s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: worker.NewPool(1, 1), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv, ended := eventServer(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, events := openStream(t, ctx, srv.URL)
	defer resp.Body.Close()

	// No state yet: heartbeats.
	events.until(t, 3*time.Second, "a heartbeat", func(name string, _ *wire.LiveStatus) bool { return name == ":" })

	state := func(rev int64, leader string) *wire.ClusterState {
		return &wire.ClusterState{LeaderID: leader, Epoch: rev, Term: 3, Revision: rev, Nodes: []wire.NodeStatus{
			{NodeInfo: wire.NodeInfo{ID: "n1", IP: "127.0.0.1", HTTPPort: 8081}, Role: wire.RoleLeader, Healthy: true},
			{NodeInfo: wire.NodeInfo{ID: "n2"}, Role: wire.RoleFollower},
		}}
	}
	fc.setState(state(5, "n1"))
	st := events.until(t, 3*time.Second, "the first state", func(_ string, st *wire.LiveStatus) bool { return st != nil })
	if st.LeaderID != "n1" || st.Epoch != 5 || st.ServedBy != "n1" || len(st.Nodes) != 2 {
		t.Fatalf("first event: %+v", st)
	}
	// The node's probe rounds reach the stream as they change.
	fc.setProbes(map[string]wire.NodeProbe{
		"n1": {Reachable: true, Status: 200},
		"n2": {Error: "no registered address"},
	})
	st = events.until(t, 3*time.Second, "probe results", func(_ string, st *wire.LiveStatus) bool {
		return st != nil && len(st.Probes) == 2
	})
	if p := st.Probes["n1"]; !p.Reachable || p.Status != 200 {
		t.Errorf("probe of the serving node: %+v", p)
	}
	if p := st.Probes["n2"]; p.Reachable || p.Error == "" {
		t.Errorf("probe of an unregistered node: %+v", p)
	}

	// A change is pushed at once, long before the once-a-second refresh
	// would carry it.
	start := time.Now()
	fc.setState(state(6, "n2"))
	events.until(t, 3*time.Second, "the changed state", func(_ string, st *wire.LiveStatus) bool { return st != nil && st.LeaderID == "n2" })
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("a change took %s to arrive", took)
	}
	// Unchanged state is still repeated at least every second.
	start = time.Now()
	events.until(t, 3*time.Second, "a repeat", func(_ string, st *wire.LiveStatus) bool { return st != nil })
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("%s between events of an unchanged state", took)
	}

	// The client leaves: the handler ends and gives up its subscriptions.
	cancel()
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("the stream's handler still runs after the client left")
	}
	if states, probes := fc.subscriptions(); states != 0 || probes != 0 {
		t.Fatalf("after the stream ended: %d state and %d probe subscriptions left", states, probes)
	}
}

// Many streams share the node's one prober: opening them subscribes, and
// probes nothing itself.
func TestClusterEventsShareTheNodesProbes(t *testing.T) {
	fc := newFakeCluster()
	fc.setState(&wire.ClusterState{LeaderID: "n1", Revision: 1})
	s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: worker.NewPool(1, 1), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	const streams = 20
	var readers []sseReader
	for range streams {
		resp, events := openStream(t, context.Background(), srv.URL)
		defer resp.Body.Close()
		readers = append(readers, events)
	}
	fc.setProbes(map[string]wire.NodeProbe{"n1": {Reachable: true, Status: 200}})
	for i, events := range readers {
		st := events.until(t, 3*time.Second, fmt.Sprintf("stream %d's probe round", i), func(_ string, st *wire.LiveStatus) bool {
			return st != nil && len(st.Probes) == 1
		})
		if !st.Probes["n1"].Reachable {
			t.Fatalf("stream %d: %+v", i, st.Probes)
		}
	}
	if _, probes := fc.subscriptions(); probes != streams {
		t.Fatalf("%d probe subscriptions for %d streams", probes, streams)
	}
}

func TestClusterEventsEndWhenDraining(t *testing.T) {
	fc := newFakeCluster()
	fc.setState(&wire.ClusterState{LeaderID: "n1", Revision: 1})
	s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: worker.NewPool(1, 1), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv, ended := eventServer(t, s)
	resp, events := openStream(t, context.Background(), srv.URL)
	defer resp.Body.Close()
	events.until(t, 3*time.Second, "a status", func(_ string, st *wire.LiveStatus) bool { return st != nil })

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

// TestEventStreamEndsForAClientThatStopsReading: a client that opens the
// event stream and never reads would block the stream in a write once
// the socket's buffers fill; the write's deadline ends it, freeing its
// slot, and a drain ends it too.
func TestEventStreamEndsForAClientThatStopsReading(t *testing.T) {
	fc := newFakeCluster()
	var nodes []wire.NodeStatus
	for i := range 2000 { // events of about half a megabyte
		nodes = append(nodes, wire.NodeStatus{NodeInfo: wire.NodeInfo{ID: fmt.Sprintf("worker-%04d", i), IP: "10.0.0.1", Version: strings.Repeat("v", 100)}})
	}
	fc.setState(&wire.ClusterState{LeaderID: "n1", Revision: 1, Nodes: nodes})
	s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: worker.NewPool(1, 1), AdminToken: testToken, MaxEventStreams: 1, BodyIdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv, ended := eventServer(t, s)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /cluster/events HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(conn).Peek(1); err != nil {
		t.Fatal(err)
	}
	for i := range 40 { // the client reads none of these
		fc.setState(&wire.ClusterState{LeaderID: "n1", Revision: int64(i + 2), Nodes: nodes})
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Fatal("the stream of a client that stopped reading still runs 3 s on")
	}
	resp, err := http.Get(srv.URL + "/cluster/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a new stream after the stuck one ended: %d", resp.StatusCode)
	}
}
