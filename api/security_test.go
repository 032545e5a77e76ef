package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/worker"
)

// doFrom is do with the client's address (RemoteAddr) chosen.
func doFrom(t *testing.T, s *Server, method, path, remoteAddr string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remoteAddr
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// accessControlHeaders lists the response's Access-Control-* headers.
func accessControlHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	return out
}

// /admin/ is same-origin only: a browser must refuse a cross-origin
// admin call, so neither its preflight nor its answer may carry any
// Access-Control header. The stego API and /cluster/ stay open to other
// origins. Every answer says nosniff.
func TestCORSIsOpenExceptForAdmin(t *testing.T) {
	s, _ := newTestServer(t, nil)
	preflight := map[string]string{
		"Origin":                         "https://evil.example",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization, content-type",
	}
	crossOrigin := map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer " + testToken}
	cases := []struct {
		name         string
		method, path string
		header       map[string]string
		wantCORS     bool
		wantStatus   int // 0: any
	}{
		{"preflight to /admin/fail", "OPTIONS", "/admin/fail", preflight, false, 0},
		{"preflight to /admin/restore", "OPTIONS", "/admin/restore", preflight, false, 0},
		{"preflight to /admin/nodes/:id/fail", "OPTIONS", "/admin/nodes/n2/fail", preflight, false, 0},
		{"cross-origin admin call", "POST", "/admin/restore", crossOrigin, false, 200},
		{"preflight to /api/embed", "OPTIONS", "/api/embed", preflight, true, 204},
		{"preflight to /api/extract", "OPTIONS", "/api/extract", preflight, true, 204},
		{"cross-origin /cluster/status", "GET", "/cluster/status", map[string]string{"Origin": "https://gui.example"}, true, 503},
		{"cross-origin /api/dataset", "GET", "/api/dataset/1", map[string]string{"Origin": "https://gui.example"}, true, 200},
		{"unknown path", "GET", "/nowhere", nil, true, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := doFrom(t, s, tc.method, tc.path, "192.0.2.10:4000", tc.header)
			if tc.wantStatus != 0 && rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d (%s)", rec.Code, tc.wantStatus, rec.Body)
			}
			acao := rec.Header().Get("Access-Control-Allow-Origin")
			switch {
			case tc.wantCORS && acao != "*":
				t.Errorf("Access-Control-Allow-Origin %q, want *", acao)
			case !tc.wantCORS && len(accessControlHeaders(rec.Header())) != 0:
				t.Errorf("admin answer carries %v; a browser would let another origin call it", accessControlHeaders(rec.Header()))
			case !tc.wantCORS && rec.Code >= 200 && rec.Code < 300 && tc.method == "OPTIONS":
				t.Errorf("admin preflight approved with %d", rec.Code)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// Wrong admin tokens are limited per client: after adminFailureBurst of
// them the client gets 429 with Retry-After for every admin call, right
// token or not, while other clients are served. Behind a trusted proxy
// the client is the address in X-Forwarded-For; from anywhere else that
// header is ignored, so it cannot be used to get a fresh allowance.
func TestWrongAdminTokensAreRateLimitedPerClient(t *testing.T) {
	s, _ := newTestServer(t, nil)
	var logs bytes.Buffer
	s.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	const attacker, other, proxy = "203.0.113.7:5000", "198.51.100.9:6000", "127.0.0.1:7000"
	right := map[string]string{"Authorization": "Bearer " + testToken}
	wrong := map[string]string{"Authorization": "Bearer " + strings.Repeat("x", len(testToken))}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for hk, hv := range h {
			out[hk] = hv
		}
		return out
	}

	for i := range 20 {
		rec := doFrom(t, s, "POST", "/admin/restore", attacker, wrong)
		want := http.StatusUnauthorized
		if i >= adminFailureBurst {
			want = http.StatusTooManyRequests
		}
		if rec.Code != want {
			t.Fatalf("wrong token %d: %d, want %d (%s)", i+1, rec.Code, want, rec.Body)
		}
		if want != http.StatusTooManyRequests {
			continue
		}
		if code := decodeJSON(t, rec)["code"]; code != codeTooManyRequests {
			t.Fatalf("wrong token %d: code %v", i+1, code)
		}
		secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || secs < 1 || secs > int(adminFailureEvery/time.Second) {
			t.Fatalf("wrong token %d: Retry-After %q, want 1..%d seconds", i+1, rec.Header().Get("Retry-After"), int(adminFailureEvery/time.Second))
		}
	}

	// The operator sees the tries that were compared, and only those.
	if n := strings.Count(logs.String(), `msg="admin call with a wrong token" client=203.0.113.7`); n != adminFailureBurst {
		t.Errorf("%d wrong tokens logged, want %d:\n%s", n, adminFailureBurst, logs.String())
	}

	cases := []struct {
		name   string
		remote string
		header map[string]string
		want   int
	}{
		{"the blocked client, right token", attacker, right, http.StatusTooManyRequests},
		{"another client, right token", other, right, http.StatusOK},
		{"another client, wrong token", other, wrong, http.StatusUnauthorized},
		{"the blocked client via the trusted proxy", proxy, with(right, "X-Forwarded-For", "203.0.113.7"), http.StatusTooManyRequests},
		{"another client via the trusted proxy", proxy, with(right, "X-Forwarded-For", "198.51.100.77"), http.StatusOK},
		{"the blocked client spoofing X-Forwarded-For", attacker, with(right, "X-Forwarded-For", "198.51.100.78"), http.StatusTooManyRequests},
		{"the blocked client spoofing X-Real-IP via the proxy", proxy, with(with(right, "X-Forwarded-For", "203.0.113.7"), "X-Real-IP", "198.51.100.79"), http.StatusTooManyRequests},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if rec := doFrom(t, s, "POST", "/admin/restore", tc.remote, tc.header); rec.Code != tc.want {
				t.Fatalf("%d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
		})
	}
}

// Calls without a credential are refused (401) but use up nothing: any
// web page the operator has open can send them from the operator's own
// address (a form post needs no preflight), and counting them let a
// page lock the operator out.
func TestAdminCallsWithoutATokenDoNotLockOut(t *testing.T) {
	s, _ := newTestServer(t, nil)
	const operator = "198.51.100.30:1000"
	for i := range 4 * adminFailureBurst {
		if rec := doFrom(t, s, "POST", "/admin/restore", operator, nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("call %d without a token: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	if rec := doFrom(t, s, "POST", "/admin/restore", operator, map[string]string{"Authorization": "Bearer " + testToken}); rec.Code != http.StatusOK {
		t.Fatalf("the operator's token after tokenless calls from the same address: %d %s", rec.Code, rec.Body)
	}
}

// Right tokens use up nothing: a client may make any number of admin
// calls.
func TestRightAdminTokensAreNotLimited(t *testing.T) {
	s, _ := newTestServer(t, nil)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	for i := range 4 * adminFailureBurst {
		if rec := doFrom(t, s, "POST", "/admin/restore", "198.51.100.20:1000", auth); rec.Code != http.StatusOK {
			t.Fatalf("call %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
}

// The limiter's own arithmetic, on a fake clock: how long a client
// waits, when it is forgotten, and that a flood of addresses costs at
// most maxClients entries.
func TestFailureLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const every = 10 * time.Second
	cases := []struct {
		name      string
		failures  int           // by "a", at t0
		after     time.Duration // when wait is asked
		wantWait  time.Duration
		wantKnown bool // "a" still remembered after wait
	}{
		{"no failures", 0, 0, 0, false},
		{"within the burst", 2, 0, 0, true},
		{"burst used up", 3, 0, every, true},
		{"burst used up, partly refilled", 3, 4 * time.Second, 6 * time.Second, true},
		{"one refilled", 3, every, 0, true},
		{"racing failures push the wait out", 5, 0, 3 * every, true},
		{"all refilled: forgotten", 3, 3 * every, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newFailureLimiter(3, every, 100)
			for range tc.failures {
				l.fail("a", t0)
			}
			// Within a millisecond: the buckets count in floating point.
			if got := l.wait("a", t0.Add(tc.after)); (got - tc.wantWait).Abs() > time.Millisecond {
				t.Errorf("wait %s, want %s", got, tc.wantWait)
			}
			if known := l.size() == 1; known != tc.wantKnown {
				t.Errorf("remembered %v, want %v", known, tc.wantKnown)
			}
		})
	}

	t.Run("a flood of addresses", func(t *testing.T) {
		const maxClients = 50
		l := newFailureLimiter(1, every, maxClients)
		for i := range 10 * maxClients {
			l.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0)
			if n := l.size(); n > maxClients {
				t.Fatalf("%d clients remembered, cap %d", n, maxClients)
			}
		}
		last := fmt.Sprintf("10.0.%d.%d", (10*maxClients-1)/256, (10*maxClients-1)%256)
		if l.wait(last, t0) == 0 {
			t.Error("the latest client of the flood is not limited")
		}
		if l.wait("10.0.0.0", t0) != 0 {
			t.Error("the oldest client of the flood was kept beyond the cap")
		}
	})
}

// New refuses what would leave /admin/ open or unusable.
func TestNewRefusesBadSecuritySettings(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"no admin token", Config{NodeID: "n1"}},
		{"a trusted proxy that is no address", Config{NodeID: "n1", AdminToken: testToken, TrustedProxies: []string{"nginx"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Cluster, tc.cfg.Pool = newFakeCluster(), worker.NewPool(1, 1)
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// Beyond MaxEventStreams, GET /cluster/events answers 503 with
// Retry-After; a stream that ends frees its slot.
func TestClusterEventsAreCapped(t *testing.T) {
	const maxStreams = 2
	fc := newFakeCluster()
	s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: worker.NewPool(1, 1), AdminToken: testToken, MaxEventStreams: maxStreams})
	if err != nil {
		t.Fatal(err)
	}
	srv, ended := eventServer(t, s)
	var cancels []context.CancelFunc
	for range maxStreams {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cancels = append(cancels, cancel)
		resp, events := openStream(t, ctx, srv.URL)
		defer resp.Body.Close()
		if name, _, err := events.next(); err != nil || name != ":" {
			t.Fatalf("first frame of a stream: %q %v", name, err)
		}
	}

	over := func() *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + "/cluster/events")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := over()
	var body struct{ Code string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("refused stream's body: %v", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || body.Code != codeTooManyStreams {
		t.Fatalf("stream %d: %d %q, Retry-After %q; want 503 %s with Retry-After", maxStreams+1, resp.StatusCode, body.Code, resp.Header.Get("Retry-After"), codeTooManyStreams)
	}
	<-ended // the refused request's handler

	cancels[0]()
	select {
	case <-ended:
	case <-time.After(2 * time.Second):
		t.Fatal("a stream's handler still runs after its client left")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp2, _ := openStream(t, ctx, srv.URL) // fails the test unless 200
	resp2.Body.Close()
}
