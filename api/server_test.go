package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/wire"
	"github.com/stegocluster/stegocluster/worker"
)

const testToken = "s3cret-admin"

func newTestServer(t *testing.T, pool *worker.Pool) (*Server, *fakeCluster) {
	t.Helper()
	if pool == nil {
		pool = worker.NewPool(2, 4)
	}
	fc := newFakeCluster()
	fc.setLeadership(coordinator.Leadership{IsLeader: true, Epoch: 7})
	s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: pool, AdminToken: testToken, MaxUpload: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s, fc
}

type part struct {
	field, filename string
	data            []byte
}

func multipartBody(t *testing.T, parts ...part) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename == "" {
			w.WriteField(p.field, string(p.data))
			continue
		}
		fw, err := w.CreateFormFile(p.field, p.filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(p.data)
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

func do(t *testing.T, s *Server, method, path string, body io.Reader, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func post(t *testing.T, s *Server, path string, header map[string]string, parts ...part) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	h := map[string]string{"Content-Type": ct}
	for k, v := range header {
		h[k] = v
	}
	return do(t, s, http.MethodPost, path, body, h)
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("response is not JSON (%d %s): %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
	return m
}

// noise is incompressible, so it cannot sneak under capacity compressed.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func smallPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	png.Encode(&buf, m)
	return buf.Bytes()
}

func TestHideAndRevealRoundTrip(t *testing.T) {
	s, _ := newTestServer(t, nil)
	secret := []byte("meet at the old mill at dawn")
	rec := post(t, s, "/api/embed", nil, part{"file", "plan.txt", secret}, part{"password", "", []byte("pw")})
	if rec.Code != http.StatusOK {
		t.Fatalf("embed: %d %s", rec.Code, rec.Body)
	}
	resp := decodeJSON(t, rec)
	for _, k := range []string{"request_id", "node_id", "cover_info", "secret_size_bytes", "payload_size_bytes", "stego_image_b64", "notes"} {
		if _, ok := resp[k]; !ok {
			t.Errorf("embed response lacks %q", k)
		}
	}
	info := resp["cover_info"].(map[string]any)
	if info["width"] != 960.0 || info["capacity_bytes"] != 230337.0 || info["lsb_per_channel"] != 1.0 {
		t.Errorf("cover_info %v", info)
	}
	stegoPNG, err := base64.StdEncoding.DecodeString(resp["stego_image_b64"].(string))
	if err != nil {
		t.Fatal(err)
	}
	rec = post(t, s, "/api/extract", nil, part{"file", "s.png", stegoPNG}, part{"password", "", []byte("pw")})
	got := decodeJSON(t, rec)
	b, _ := base64.StdEncoding.DecodeString(got["recovered_b64"].(string))
	if rec.Code != http.StatusOK || !bytes.Equal(b, secret) || got["recovered_filename"] != "plan.txt" || got["recovered_mime"] != "text/plain; charset=utf-8" && got["recovered_mime"] != "text/plain" {
		t.Fatalf("extract: %d %v", rec.Code, got)
	}

	// Raw bodies both ways.
	rec = post(t, s, "/api/embed", map[string]string{"Accept": "image/png"}, part{"file", "plan.txt", secret})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/png" || rec.Header().Get("X-Request-ID") == "" {
		t.Fatalf("raw embed: %d %s", rec.Code, rec.Header())
	}
	rec = post(t, s, "/api/extract", map[string]string{"Accept": "application/octet-stream"}, part{"file", "s.png", rec.Body.Bytes()})
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), secret) || !strings.Contains(rec.Header().Get("Content-Disposition"), `filename=plan.txt`) {
		t.Fatalf("raw extract: %d %s %q", rec.Code, rec.Header(), rec.Body)
	}

	// With the client's own cover.
	rec = post(t, s, "/api/embed", nil, part{"file", "a.bin", []byte("x")}, part{"cover", "c.png", smallPNG(t, 64, 64)}, part{"depth", "", []byte("2")})
	if rec.Code != http.StatusOK || decodeJSON(t, rec)["cover_info"].(map[string]any)["width"] != 64.0 {
		t.Fatalf("own cover: %d %s", rec.Code, rec.Body)
	}
}

func TestErrorsAreJSONWithTheRightStatus(t *testing.T) {
	s, _ := newTestServer(t, nil)
	tiny := smallPNG(t, 30, 20)
	cases := []struct {
		name   string
		rec    func() *httptest.ResponseRecorder
		status int
		code   string
	}{
		{"embed without a secret", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed", nil, part{"password", "", []byte("x")})
		}, 400, "bad_request"},
		{"not multipart", func() *httptest.ResponseRecorder {
			return do(t, s, "POST", "/api/embed", strings.NewReader("{}"), map[string]string{"Content-Type": "application/json"})
		}, 400, "bad_request"},
		{"bad depth", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")}, part{"depth", "", []byte("9")})
		}, 400, "bad_request"},
		{"secret over capacity", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed", nil, part{"file", "a", noise(500)}, part{"cover", "c.png", tiny})
		}, 413, "too_large"},
		{"upload over the limit", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed", nil, part{"file", "a", make([]byte, 3<<20)})
		}, 413, "too_large"},
		{"cover not an image", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")}, part{"cover", "c.png", []byte("this is a text file, not an image")})
		}, 415, "unsupported_image"},
		{"empty cover file", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")}, part{"cover", "c.png", nil})
		}, 400, "bad_request"},
		{"empty cover file, capacity", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/capacity", nil, part{"cover", "c.png", nil})
		}, 400, "bad_request"},
		{"empty cover file, analysis", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/analyze", nil, part{"file", "c.png", tiny}, part{"cover", "c.png", nil})
		}, 400, "bad_request"},
		{"unknown answer format", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/embed?format=jpeg", nil, part{"file", "a", []byte("x")})
		}, 400, "bad_request"},
		{"unknown answer format, extract", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/extract?format=png", nil, part{"file", "c.png", tiny})
		}, 400, "bad_request"},
		{"extract from a clean image", func() *httptest.ResponseRecorder {
			return post(t, s, "/api/extract", nil, part{"file", "c.png", smallPNG(t, 64, 64)})
		}, 422, "no_hidden_data"},
		{"dataset out of range", func() *httptest.ResponseRecorder { return do(t, s, "GET", "/api/dataset/50", nil, nil) }, 404, "not_found"},
		{"dataset not a number", func() *httptest.ResponseRecorder { return do(t, s, "GET", "/api/dataset/x", nil, nil) }, 404, "not_found"},
		{"unknown path", func() *httptest.ResponseRecorder { return do(t, s, "GET", "/nope", nil, nil) }, 404, "not_found"},
		{"wrong method", func() *httptest.ResponseRecorder { return do(t, s, "GET", "/api/embed", nil, nil) }, 405, "method_not_allowed"},
		{"admin without token", func() *httptest.ResponseRecorder {
			return do(t, s, "POST", "/admin/fail", strings.NewReader(`{"action":"pause"}`), nil)
		}, 401, "unauthorized"},
		{"admin wrong token", func() *httptest.ResponseRecorder {
			return do(t, s, "POST", "/admin/restore", nil, map[string]string{"Authorization": "Bearer nope"})
		}, 401, "unauthorized"},
		{"admin bad action", func() *httptest.ResponseRecorder {
			return do(t, s, "POST", "/admin/fail", strings.NewReader(`{"action":"explode"}`), map[string]string{"Authorization": "Bearer " + testToken})
		}, 400, "bad_request"},
		{"no cluster state yet", func() *httptest.ResponseRecorder { return do(t, s, "GET", "/cluster/status", nil, nil) }, 503, "no_state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec()
			body := decodeJSON(t, rec)
			if rec.Code != tc.status || body["code"] != tc.code || body["error"] == "" {
				t.Fatalf("got %d %v, want %d code %q", rec.Code, body, tc.status, tc.code)
			}
		})
	}
	// ?format=json asks for JSON whatever Accept says.
	if rec := post(t, s, "/api/embed?format=json", map[string]string{"Accept": "image/png"}, part{"file", "a", []byte("x")}); rec.Code != http.StatusOK || decodeJSON(t, rec)["stego_image_b64"] == nil {
		t.Fatalf("embed ?format=json with Accept: image/png: %d %.200s", rec.Code, rec.Body)
	}
	// A file input left empty in a browser's form (no name, no bytes) is
	// no cover: the built-in one is used.
	if rec := post(t, s, "/api/capacity", nil, part{"cover", "", nil}); rec.Code != http.StatusOK {
		t.Fatalf("capacity with an empty, unnamed cover part: %d %s", rec.Code, rec.Body)
	}
	// The capacity error says by how much.
	rec := post(t, s, "/api/embed", nil, part{"file", "a", noise(500)}, part{"cover", "c.png", tiny})
	body := decodeJSON(t, rec)
	if body["needed_bytes"] == nil || body["available_bytes"] == nil {
		t.Fatalf("413 lacks needed/available: %v", body)
	}
}

func TestCapacityAnalyzeDataset(t *testing.T) {
	s, _ := newTestServer(t, nil)
	rec := do(t, s, "POST", "/api/capacity", nil, nil)
	if got := decodeJSON(t, rec); rec.Code != 200 || got["capacity_bytes"] != 230337.0 {
		t.Fatalf("capacity of the built-in cover: %d %v", rec.Code, got)
	}
	rec = post(t, s, "/api/capacity", nil, part{"cover", "c.png", smallPNG(t, 64, 64)}, part{"depth", "", []byte("2")})
	if got := decodeJSON(t, rec); rec.Code != 200 || got["capacity_bytes"] != float64((64*64*3-360)*2/8-18) {
		t.Fatalf("capacity of a 64x64 cover at depth 2: %d %v", rec.Code, got)
	}
	rec = post(t, s, "/api/analyze", nil, part{"file", "c.png", smallPNG(t, 64, 64)})
	if got := decodeJSON(t, rec); rec.Code != 200 || got["chi_square"] == nil || got["rs"] == nil {
		t.Fatalf("analyze: %d %v", rec.Code, got)
	}
	first := do(t, s, "GET", "/api/dataset/7", nil, nil)
	again := do(t, s, "GET", "/api/dataset/7", nil, nil)
	if first.Code != 200 || first.Header().Get("Content-Type") != "image/png" || !bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) {
		t.Fatalf("dataset/7: %d, deterministic %t", first.Code, bytes.Equal(first.Body.Bytes(), again.Body.Bytes()))
	}
	if _, err := png.Decode(first.Body); err != nil {
		t.Fatalf("dataset is not a PNG: %v", err)
	}
}

func TestClusterStatusHealthAndReadiness(t *testing.T) {
	s, fc := newTestServer(t, nil)
	fc.setState(&wire.ClusterState{LeaderID: "n1", Epoch: 7, Term: 3, Nodes: []wire.NodeStatus{
		{NodeInfo: wire.NodeInfo{ID: "n1", IP: "10.0.0.1", HTTPPort: 8080, RaftPort: 2380, NodeMetrics: wire.NodeMetrics{CPUPct: 12.5, QPS1m: 3}}, Role: "Leader", Healthy: true},
		{NodeInfo: wire.NodeInfo{ID: "n2"}, Role: "Follower", Healthy: false},
	}})
	rec := do(t, s, "GET", "/cluster/status", nil, nil)
	got := decodeJSON(t, rec)
	nodes := got["nodes"].([]any)
	n1 := nodes[0].(map[string]any)
	if rec.Code != 200 || got["leader_id"] != "n1" || got["term"] != 3.0 || got["epoch"] != 7.0 || len(nodes) != 2 ||
		n1["role"] != "Leader" || n1["cpu_pct"] != 12.5 || n1["qps_1m"] != 3.0 || n1["http_port"] != 8080.0 || n1["healthy"] != true {
		t.Fatalf("status: %d %v", rec.Code, got)
	}
	if rec := do(t, s, "GET", "/healthz", nil, nil); rec.Code != 200 {
		t.Fatalf("healthz: %d", rec.Code)
	}
	if rec := do(t, s, "GET", "/readyz", nil, nil); rec.Code != 200 {
		t.Fatalf("readyz: %d", rec.Code)
	}
	for _, path := range []string{"/cluster/status", "/healthz", "/readyz", "/metrics"} {
		if rec := do(t, s, "HEAD", path, nil, nil); rec.Code != 200 {
			t.Errorf("HEAD %s: %d", path, rec.Code)
		}
	}
	fc.mu.Lock()
	fc.notReady = errors.New("no quorum")
	fc.mu.Unlock()
	if rec := do(t, s, "GET", "/readyz", nil, nil); rec.Code != 503 || decodeJSON(t, rec)["code"] != "not_ready" {
		t.Fatalf("readyz without quorum: %d", rec.Code)
	}
	// A worker cut off from every member is degraded, not unready: it
	// still serves stego work, and says why in /readyz and the status.
	fc.mu.Lock()
	fc.notReady = fmt.Errorf("%w: no etcd member answers", coordinator.ErrDegraded)
	fc.degraded = "no etcd member reached for 5s"
	fc.mu.Unlock()
	if rec := do(t, s, "GET", "/readyz", nil, nil); rec.Code != 200 || decodeJSON(t, rec)["status"] != "degraded" {
		t.Fatalf("readyz of a degraded worker: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "GET", "/cluster/status", nil, nil); rec.Code != 200 || decodeJSON(t, rec)["degraded"] != "no etcd member reached for 5s" {
		t.Fatalf("status of a degraded worker: %d %s", rec.Code, rec.Body)
	}
	// Answers are encoded once per state: a new state is a new answer.
	fc.setState(&wire.ClusterState{LeaderID: "n2", Epoch: 8})
	if rec := do(t, s, "GET", "/cluster/status", nil, nil); decodeJSON(t, rec)["leader_id"] != "n2" {
		t.Fatalf("status after a new state: %s", rec.Body)
	}
	s.Drain()
	if rec := do(t, s, "GET", "/healthz", nil, nil); rec.Code != 503 {
		t.Fatalf("healthz while draining: %d", rec.Code)
	}
	if rec := post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")}); rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("embed while draining: %d", rec.Code)
	}
}

func TestPauseAndRestore(t *testing.T) {
	s, _ := newTestServer(t, nil)
	auth := map[string]string{"Authorization": "Bearer " + testToken}
	if rec := do(t, s, "POST", "/admin/fail", strings.NewReader(`{"action":"pause"}`), auth); rec.Code != 200 {
		t.Fatalf("pause: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "GET", "/healthz", nil, nil); rec.Code != 503 || decodeJSON(t, rec)["code"] != "paused" {
		t.Fatalf("healthz while paused: %d", rec.Code)
	}
	if rec := post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")}); rec.Code != 503 || decodeJSON(t, rec)["code"] != "paused" {
		t.Fatalf("embed while paused: %d", rec.Code)
	}
	if rec := do(t, s, "POST", "/admin/restore", nil, auth); rec.Code != 200 {
		t.Fatalf("restore: %d", rec.Code)
	}
	if rec := post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")}); rec.Code != 200 {
		t.Fatalf("embed after restore: %d %s", rec.Code, rec.Body)
	}
}

func TestBusyNodeAnswers503AtOnce(t *testing.T) {
	pool := worker.NewPool(1, 0)
	s, _ := newTestServer(t, pool)
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	// The general slot and the express one small jobs may also use.
	go pool.Do(context.Background(), func(context.Context) error { started <- struct{}{}; <-release; return nil })
	<-started
	go pool.DoSmall(context.Background(), func(context.Context) error { started <- struct{}{}; <-release; return nil })
	<-started
	defer close(release)
	rec := post(t, s, "/api/embed", nil, part{"file", "a", []byte("x")})
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || decodeJSON(t, rec)["code"] != "busy" {
		t.Fatalf("busy: %d %s %s", rec.Code, rec.Header(), rec.Body)
	}
}

// TestExpressSlotKeptForQuickJobs: with the general slot busy, quick
// jobs still run on the express slot, and the costly ones (an adaptive
// hide, a password's key derivation, an extraction, an analysis with the
// rich model) are refused as busy instead of taking it.
func TestExpressSlotKeptForQuickJobs(t *testing.T) {
	pool := worker.NewPool(1, 0)
	s, _ := newTestServer(t, pool)
	release := make(chan struct{})
	started := make(chan struct{})
	go pool.Do(context.Background(), func(context.Context) error { close(started); <-release; return nil })
	<-started
	defer close(release)
	photo := smallPNG(t, 300, 300)
	big := smallPNG(t, 3000, 3000) // 36 MB decoded: over smallJob
	for _, tc := range []struct {
		name  string
		path  string
		parts []part
		want  int
	}{
		{"keyed hide", "/api/embed", []part{{"file", "a", []byte("x")}}, http.StatusOK},
		{"adaptive hide", "/api/embed", []part{{"file", "a", []byte("x")}, {"mode", "", []byte("adaptive")}}, http.StatusServiceUnavailable},
		{"hide with a password", "/api/embed", []part{{"file", "a", []byte("x")}, {"password", "", []byte("pw")}}, http.StatusServiceUnavailable},
		{"hide in a mode that is none: refused at once", "/api/embed", []part{{"file", "a", []byte("x")}, {"mode", "", []byte("loud")}}, http.StatusBadRequest},
		{"hide into a big cover", "/api/embed", []part{{"file", "a", []byte("x")}, {"cover", "big.png", big}}, http.StatusServiceUnavailable},
		{"capacity of a small cover", "/api/capacity", []part{{"cover", "p.png", photo}}, http.StatusOK},
		{"capacity of a big cover", "/api/capacity", []part{{"cover", "big.png", big}}, http.StatusServiceUnavailable},
		{"extraction", "/api/extract", []part{{"file", "p.png", photo}}, http.StatusServiceUnavailable},
		{"analysis, classic tests only", "/api/analyze?rich_model=false", []part{{"file", "p.png", photo}}, http.StatusOK},
		{"analysis with the rich model", "/api/analyze", []part{{"file", "p.png", photo}}, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, s, tc.path, nil, tc.parts...)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %.300s", rec.Code, tc.want, rec.Body.String())
			}
			if tc.want == http.StatusServiceUnavailable && decodeJSON(t, rec)["code"] != "busy" {
				t.Fatalf("refused, but not as busy: %s", rec.Body)
			}
		})
	}
}

func TestCORSAndMetrics(t *testing.T) {
	s, fc := newTestServer(t, nil)
	rec := do(t, s, "OPTIONS", "/api/embed", nil, map[string]string{"Origin": "http://elsewhere", "Access-Control-Request-Method": "POST"})
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %s", rec.Code, rec.Header())
	}
	do(t, s, "GET", "/api/dataset/1", nil, nil)
	fc.setLeadership(coordinator.Leadership{IsLeader: true, Epoch: 42})
	rec = do(t, s, "GET", "/metrics", nil, nil)
	body := rec.Body.String()
	for _, want := range []string{
		`stegocluster_http_requests_total{method="GET",route="/api/dataset/:index",status="200"} 1`,
		"stegocluster_http_request_duration_seconds_bucket",
		"stegocluster_worker_in_flight 0",
		"stegocluster_worker_queue_depth 0",
		"stegocluster_is_leader 1",
		"stegocluster_leader_epoch 42",
		"stegocluster_leader_changes_total 2",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
