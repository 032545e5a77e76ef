package api

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/wire"
	"github.com/stegocluster/stegocluster/worker"
)

func TestAdminNodeRoute(t *testing.T) {
	// Node n2 runs for real behind HTTP; n1 is the node the request
	// reaches (as through nginx).
	fc2 := newFakeCluster()
	crashed := fc2.crashed
	s2, err := New(Config{NodeID: "n2", Cluster: fc2, Pool: worker.NewPool(1, 1), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	var seenAuth atomic.Value // the Authorization header n2 last received
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenAuth.Store(r.Header.Get("Authorization"))
		s2.Handler().ServeHTTP(w, r)
	}))
	defer srv2.Close()
	ip2, port2 := hostPort(t, srv2.URL)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ipGone, portGone := hostPort(t, "http://"+closed.Addr().String())
	closed.Close()

	s1, fc1 := newTestServer(t, worker.NewPool(1, 1))
	fc1.setState(&wire.ClusterState{LeaderID: "n1", Nodes: []wire.NodeStatus{
		{NodeInfo: wire.NodeInfo{ID: "n1", IP: "127.0.0.1", HTTPPort: 1}},
		{NodeInfo: wire.NodeInfo{ID: "n2", IP: ip2, HTTPPort: port2}, EtcdMemberID: "2", PeerURLs: []string{"http://" + ip2 + ":2380"}},
		{NodeInfo: wire.NodeInfo{ID: "n3"}, EtcdMemberID: "3"}, // registry entry gone
		{NodeInfo: wire.NodeInfo{ID: "n4", IP: ipGone, HTTPPort: portGone}, EtcdMemberID: "4", PeerURLs: []string{"http://localhost:2380"}},
		// A registry entry written straight into etcd: no member behind it.
		{NodeInfo: wire.NodeInfo{ID: "evil", IP: ip2, HTTPPort: port2}},
		// A member's entry overwritten with another address.
		{NodeInfo: wire.NodeInfo{ID: "n5", IP: ip2, HTTPPort: port2}, EtcdMemberID: "5", PeerURLs: []string{"http://192.0.2.7:2380"}},
	}})
	auth := map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": "application/json"}

	cases := []struct {
		name, path, body string
		header           map[string]string
		status           int
		code             string // error code, or "" for success
		nodeID           string // node_id of a success
		after            func(t *testing.T)
	}{
		{"self: pause", "/admin/nodes/n1/fail", `{"action":"pause"}`, auth, 200, "", "n1", func(t *testing.T) {
			if !fc1.Paused() {
				t.Error("n1 is not paused")
			}
		}},
		{"self: restore", "/admin/nodes/n1/restore", `{}`, auth, 200, "", "n1", func(t *testing.T) {
			if fc1.Paused() {
				t.Error("n1 is still paused")
			}
		}},
		{"forward: pause", "/admin/nodes/n2/fail", `{"action":"pause"}`, auth, 200, "", "n2", func(t *testing.T) {
			if !fc2.Paused() || fc1.Paused() {
				t.Errorf("paused: n1 %v n2 %v, want only n2", fc1.Paused(), fc2.Paused())
			}
		}},
		{"forward: restore", "/admin/nodes/n2/restore", `{}`, auth, 200, "", "n2", func(t *testing.T) {
			if fc2.Paused() {
				t.Error("n2 is still paused")
			}
		}},
		{"forward: crash", "/admin/nodes/n2/fail", `{"action":"crash"}`, auth, 200, "", "n2", func(t *testing.T) {
			select {
			case <-crashed:
			case <-time.After(2 * time.Second):
				t.Error("n2 did not crash")
			}
		}},
		{"forward: the caller's token stays here", "/admin/nodes/n2/restore", `{}`, auth, 200, "", "n2", func(t *testing.T) {
			if got, _ := seenAuth.Load().(string); strings.Contains(got, testToken) || !strings.HasPrefix(got, forwardAuthScheme) {
				t.Errorf("n2 received Authorization %q; want a forward credential, never the token", got)
			}
		}},
		{"forged registry entry: nothing forwarded", "/admin/nodes/evil/fail", `{"action":"pause"}`, auth, 403, codeNotMember, "", func(t *testing.T) {
			if fc2.Paused() {
				t.Error("a call for a forged node reached n2")
			}
		}},
		{"member at a foreign address: nothing forwarded", "/admin/nodes/n5/fail", `{"action":"pause"}`, auth, 403, codeNotMember, "", nil},
		{"forward: the target's own error comes back", "/admin/nodes/n2/fail", `{"action":"explode"}`, auth, 400, codeBadRequest, "", nil},
		{"unknown node", "/admin/nodes/n9/fail", `{"action":"pause"}`, auth, 404, codeNotFound, "", nil},
		{"node without an address", "/admin/nodes/n3/fail", `{"action":"pause"}`, auth, 502, codeNodeUnreachable, "", nil},
		{"node not answering", "/admin/nodes/n4/restore", `{}`, auth, 502, "node_unreachable", "", nil},
		{"no token", "/admin/nodes/n2/fail", `{"action":"pause"}`, nil, 401, codeUnauthorized, "", nil},
		{"wrong token", "/admin/nodes/n2/fail", `{"action":"pause"}`, map[string]string{"Authorization": "Bearer nope"}, 401, codeUnauthorized, "", nil},
		{"forwarded to the wrong node", "/admin/nodes/n2/fail", `{"action":"pause"}`,
			map[string]string{"Authorization": "Bearer " + testToken, forwardedByHeader: "n7"}, 421, "misdirected", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, s1, http.MethodPost, tc.path, strings.NewReader(tc.body), tc.header)
			if rec.Code != tc.status {
				t.Fatalf("%d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("not JSON: %q", rec.Body)
			}
			if tc.code != "" && body["code"] != tc.code {
				t.Errorf("code %v, want %s: %v", body["code"], tc.code, body)
			}
			if tc.code != "" && body["error"] == "" {
				t.Errorf("an error without words: %v", body)
			}
			if tc.nodeID != "" && body["node_id"] != tc.nodeID {
				t.Errorf("node_id %v, want %s", body["node_id"], tc.nodeID)
			}
			if tc.after != nil {
				tc.after(t)
			}
		})
	}
}

func TestAdminNodeRouteBeforeAnyState(t *testing.T) {
	s, _ := newTestServer(t, nil)
	rec := do(t, s, http.MethodPost, "/admin/nodes/n2/fail", strings.NewReader(`{"action":"pause"}`),
		map[string]string{"Authorization": "Bearer " + testToken})
	if m := decodeJSON(t, rec); rec.Code != http.StatusServiceUnavailable || m["code"] != "no_state" {
		t.Fatalf("%d %v, want 503 no_state", rec.Code, m)
	}
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

// TestAdminForwardToWorker: a worker has no etcd member to vouch for its
// address, so a call for it is forwarded only while the registry is
// trusted (etcd's mutual TLS), and refused otherwise.
func TestAdminForwardToWorker(t *testing.T) {
	fcw := newFakeCluster()
	sw, err := New(Config{NodeID: "w1", Cluster: fcw, Pool: worker.NewPool(1, 1), AdminToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sw.Handler())
	defer srv.Close()
	ip, port := hostPort(t, srv.URL)
	state := &wire.ClusterState{LeaderID: "n1", Nodes: []wire.NodeStatus{
		{NodeInfo: wire.NodeInfo{ID: "n1", IP: "127.0.0.1", HTTPPort: 1}},
		{NodeInfo: wire.NodeInfo{ID: "w1", IP: ip, HTTPPort: port, Worker: true}, Role: wire.RoleWorker},
	}}
	auth := map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": "application/json"}
	for _, tc := range []struct {
		name    string
		trusted bool
		status  int
		paused  bool
	}{
		{"registry not trusted (plaintext etcd): refused", false, 403, false},
		{"registry trusted (mutual TLS): forwarded", true, 200, true},
	} {
		fc := newFakeCluster()
		fc.setState(state)
		s, err := New(Config{NodeID: "n1", Cluster: fc, Pool: worker.NewPool(1, 1), AdminToken: testToken, RegistryTrusted: tc.trusted})
		if err != nil {
			t.Fatal(err)
		}
		rec := do(t, s, http.MethodPost, "/admin/nodes/w1/fail", strings.NewReader(`{"action":"pause"}`), auth)
		if rec.Code != tc.status || fcw.Paused() != tc.paused {
			t.Errorf("%s: %d %s, worker paused %v; want %d, paused %v", tc.name, rec.Code, rec.Body, fcw.Paused(), tc.status, tc.paused)
		}
	}
}
