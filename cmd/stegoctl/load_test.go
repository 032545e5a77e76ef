package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/api"
	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/wire"
	"github.com/stegocluster/stegocluster/worker"
)

// loadTestCluster is what api.New needs of coordination: a follower
// with no published state that nobody pauses or crashes. Load only
// calls the stego endpoints.
type loadTestCluster struct{}

func (loadTestCluster) State() *wire.ClusterState { return nil }
func (loadTestCluster) Subscribe() (<-chan *wire.ClusterState, func()) {
	return nil, func() {}
}
func (loadTestCluster) SubscribeProbes() (<-chan map[string]wire.NodeProbe, func()) {
	return nil, func() {}
}
func (loadTestCluster) Leadership() coordinator.Leadership { return coordinator.Leadership{} }
func (loadTestCluster) LeadershipChanges() uint64          { return 0 }
func (loadTestCluster) Ready(context.Context) error        { return nil }
func (loadTestCluster) Degraded() string                   { return "" }
func (loadTestCluster) Pause()                             {}
func (loadTestCluster) Resume()                            {}
func (loadTestCluster) Paused() bool                       { return false }
func (loadTestCluster) CrashSoon()                         {}

// fault wraps a node's handler to misbehave; nil serves it as is.
type fault func(next http.Handler) http.Handler

// startNodes serves n real API servers (node ids n1…) and returns their
// base URLs.
func startNodes(t *testing.T, n int, f fault) []string {
	t.Helper()
	var urls []string
	for i := range n {
		s, err := api.New(api.Config{NodeID: fmt.Sprintf("n%d", i+1), Cluster: loadTestCluster{},
			Pool: worker.NewPool(2, 64), AdminToken: "t"})
		if err != nil {
			t.Fatal(err)
		}
		h := s.Handler()
		if f != nil {
			h = f(h)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

// every503 answers 503 (with the node header) to every third embed.
func every503(next http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/embed" && n.Add(1)%3 == 0 {
			w.Header().Set("X-Node-ID", "n1")
			http.Error(w, `{"error":"busy","code":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// corrupt flips one byte in the middle of every 200 answer on path.
func corrupt(path string) fault {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if rec.Code == http.StatusOK && len(body) > 0 {
				body[len(body)/2] ^= 0x10
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

// decodeLoad parses --json output, requiring exactly one object.
func decodeLoad(t *testing.T, stdout string) wire.LoadReport {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("--json printed more than one value:\n%s", stdout)
	}
	for _, k := range []string{"op", "targets", "clients", "duration_s", "total", "ok", "failed", "failures", "errors", "throughput_rps", "latency_ms", "per_node"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("--json lacks %q: %s", k, stdout)
		}
	}
	var rep wire.LoadReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLoadOpsRoundTripOnEveryNode(t *testing.T) {
	targets := startNodes(t, 3, nil)
	for _, op := range []string{opEmbed, opExtract, opMixed} {
		t.Run(op, func(t *testing.T) {
			r := stegoctl(t, "", "load", "--targets", strings.Join(targets, ","), "--clients", "3",
				"--requests", "12", "--op", op, "--size", "1000", "--json")
			if r.code != exitOK {
				t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
			}
			rep := decodeLoad(t, r.stdout)
			if rep.Op != op || rep.Total != 12 || rep.OK != 12 || rep.Failed != 0 || rep.Clients != 3 || len(rep.Targets) != 3 {
				t.Fatalf("report: %+v", rep)
			}
			if rep.Failures["503"] != 0 || rep.Failures[kindVerify] != 0 || rep.Errors == nil || len(rep.Errors) != 0 {
				t.Errorf("failures %v, errors %#v", rep.Failures, rep.Errors)
			}
			sum := 0
			for _, node := range []string{"n1", "n2", "n3"} {
				if rep.PerNode[node] == 0 {
					t.Errorf("node %s served nothing: %v", node, rep.PerNode)
				}
				sum += rep.PerNode[node]
			}
			if sum != rep.Total {
				t.Errorf("per-node counts %v do not add up to %d", rep.PerNode, rep.Total)
			}
			l := rep.Latency
			if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) || rep.ThroughputRPS <= 0 {
				t.Errorf("latency %+v, throughput %.1f", l, rep.ThroughputRPS)
			}
		})
	}
}

func TestLoadHumanReport(t *testing.T) {
	targets := startNodes(t, 1, nil)
	// A target without a scheme is http, as for status and health.
	r := stegoctl(t, "", "load", "--targets", strings.TrimPrefix(targets[0], "http://")+"/", "--clients", "2", "--requests", "4", "--size", "100")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"embed of 100-byte secrets, 2 clients", "4 total, 4 ok, 0 failed", "req/s", "MB/s of secret", "p50 ", "p99 ", "NODE", "n1", "100.0%"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestLoadCountsFailuresByKind(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name    string
		targets []string
		op      string
		check   func(t *testing.T, rep wire.LoadReport)
	}{
		{"503 on every third embed", startNodes(t, 1, every503), opEmbed, func(t *testing.T, rep wire.LoadReport) {
			if rep.Failures["503"] < 3 || rep.Failed != rep.Failures["503"] || rep.OK != rep.Total-rep.Failed || rep.PerNode["n1"] != rep.Total {
				t.Errorf("want only 503s, every answer from n1: %+v", rep)
			}
		}},
		{"extract answers a changed secret", startNodes(t, 2, corrupt("/api/extract")), opEmbed, func(t *testing.T, rep wire.LoadReport) {
			if rep.Failures[kindVerify] != rep.Total || rep.OK != 0 {
				t.Errorf("want every embed to fail verification: %+v", rep)
			}
		}},
		{"embed answers a damaged PNG", startNodes(t, 1, corrupt("/api/embed")), opEmbed, func(t *testing.T, rep wire.LoadReport) {
			if rep.OK != 0 || rep.Failed != rep.Total || rep.Failures["503"] != 0 {
				t.Errorf("want every embed to fail its verify with the node's refusal: %+v", rep)
			}
			if !strings.HasPrefix(rep.Errors[0], "verify: ") {
				t.Errorf("error does not say the verify failed: %q", rep.Errors[0])
			}
		}},
		{"extract answers a changed secret (op extract)", startNodes(t, 1, corrupt("/api/extract")), opExtract, nil},
		{"nothing listening", []string{closed.URL}, opEmbed, func(t *testing.T, rep wire.LoadReport) {
			if rep.Failures[kindTransport] != rep.Total || len(rep.PerNode) != 0 {
				t.Errorf("want only transport failures: %+v", rep)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stegoctl(t, "", "load", "--targets", strings.Join(tc.targets, ","), "--clients", "2",
				"--requests", "12", "--op", tc.op, "--size", "500", "--json", "--quiet")
			if r.code != exitFail {
				t.Fatalf("exit %d, want %d: %s", r.code, exitFail, r.stderr)
			}
			if tc.op == opExtract {
				// Setup verifies its images, so it cannot even start.
				if !strings.Contains(r.stderr, "setup") || r.stdout != "" {
					t.Fatalf("want a setup error and no report: %q %q", r.stderr, r.stdout)
				}
				return
			}
			rep := decodeLoad(t, r.stdout)
			if rep.Total != 12 || len(rep.Errors) == 0 || len(rep.Errors) > maxErrorMessages {
				t.Fatalf("total %d, errors %q", rep.Total, rep.Errors)
			}
			if !strings.Contains(r.stderr, fmt.Sprintf("%d of 12 requests failed", rep.Failed)) {
				t.Errorf("stderr: %q", r.stderr)
			}
			tc.check(t, rep)
		})
	}
}

func TestLoadDurationStopsOnTime(t *testing.T) {
	targets := startNodes(t, 1, nil)
	start := time.Now()
	r := stegoctl(t, "", "load", "--targets", targets[0], "--clients", "2", "--duration", "1500ms", "--size", "200", "--json")
	took := time.Since(start)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := decodeLoad(t, r.stdout)
	if rep.DurationS < 1.4 || rep.DurationS > 2.5 || took > 3*time.Second || rep.Total < 2 {
		t.Fatalf("1.5 s run reported %.2f s, took %v, %d requests", rep.DurationS, took, rep.Total)
	}
	if !strings.Contains(r.stderr, "done ") || !strings.Contains(r.stderr, "req/s") {
		t.Errorf("no progress line on stderr: %q", r.stderr)
	}
}

// TestLoadFailsWhenNothingAnswers: a target that accepts connections and
// never answers is not a pass: the run's requests are all still waiting
// when it ends, and "0 of 0 failed" once exited 0.
func TestLoadFailsWhenNothingAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Every goroutine below ends before the test does: the listener and
	// each accepted connection are closed, whatever the client left open.
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	defer func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	wg.Go(func() { // accept, read, never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			if closed {
				c.Close()
			}
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	r := stegoctl(t, "", "load", "--targets", "http://"+ln.Addr().String(), "--clients", "2", "--duration", "1s", "--size", "200", "--quiet")
	if r.code != exitFail || !strings.Contains(r.stderr, "no request completed") {
		t.Fatalf("load against a silent target: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestLoadCancelStopsPromptlyAndLeavesNothingRunning(t *testing.T) {
	// Cancel once the measured run is under way: setup makes and checks
	// stegoPoolSize images (two requests each) first.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int64
	var cancelledAt atomic.Int64
	targets := startNodes(t, 2, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if served.Add(1) == 2*stegoPoolSize+20 {
				cancelledAt.Store(time.Now().UnixNano())
				cancel()
			}
		})
	})
	before := runtime.NumGoroutine()
	var out, errOut bytes.Buffer
	err := loadCommand(ctx, []string{"--targets", strings.Join(targets, ","), "--clients", "4", "--requests", "100000", "--op", "mixed", "--json", "--quiet"}, &out, &errOut)
	if err != nil {
		t.Fatalf("interrupted run without failures: %v %s", err, errOut.String())
	}
	stopped := time.Since(time.Unix(0, cancelledAt.Load()))
	rep := decodeLoad(t, out.String())
	if !rep.Interrupted || stopped > time.Second || rep.Failed != 0 || rep.Total < 10 {
		t.Fatalf("want a prompt, clean, interrupted run (returned %v after the cancel): %+v", stopped, rep)
	}
	// Idle connections are closed and the progress goroutine has ended;
	// the servers' goroutines for those connections end soon after.
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before the run:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestLoadUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--targets", "ftp://x"},
		{"--targets", "http://"},
		{"--targets", "http://x", "--clients", "0"},
		{"--targets", "http://x", "--requests", "-1"},
		{"--targets", "http://x", "--duration", "-1s"},
		{"--targets", "http://x", "--op", "analyze"},
		{"--targets", "http://x", "--size", "0"},
		{"--targets", "http://x", "--timeout", "0s"},
		{"--targets", "http://x", "--bogus"},
		{"--targets", "http://x", "extra"},
	} {
		r := stegoctl(t, "", append([]string{"load"}, args...)...)
		if r.code != exitUsage || r.stdout != "" {
			t.Errorf("load %q: exit %d, stdout %q, want %d", args, r.code, r.stdout, exitUsage)
		}
	}
	if r := stegoctl(t, "", "load", "--help"); r.code != exitOK || !strings.Contains(r.stderr, "Examples:") {
		t.Errorf("--help: exit %d %q", r.code, r.stderr)
	}
}
