package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatusTableAndHealth(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/cluster/status", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"term":3,"leader_id":"n1","epoch":9,"raft_leader":"n2","served_by":"n3","nodes":[
			{"id":"n1","ip":"10.0.0.1","http_port":8080,"role":"Leader","healthy":true,"cpu_pct":12.5,"qps_1m":3.25},
			{"id":"n2","ip":"10.0.0.2","http_port":8080,"role":"Follower","healthy":false,"raft_leader":true},
			{"id":"n3","role":"Follower","healthy":false}]}`))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	r := stegoctl(t, "", "status", "--url", srv.URL)
	if r.code != exitOK {
		t.Fatalf("status: exit %d %s", r.code, r.stderr)
	}
	for _, want := range []string{"leader n1, epoch 9, raft term 3, raft leader n2", "n1 ", "Leader", "12.5", "3.25", "n2 ", "false", "leader"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status table lacks %q:\n%s", want, r.stdout)
		}
	}
	// A member that is down: no address, no figures (not port 0, load 0).
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, " n3 ") && (strings.Contains(line, ":0") || strings.Contains(line, "0.0")) {
			t.Errorf("a down member's row shows made-up figures: %q", line)
		}
	}
	// A URL as one types it, without http://.
	if r := stegoctl(t, "", "status", "--url", strings.TrimPrefix(srv.URL, "http://")); r.code != exitOK {
		t.Errorf("status --url without a scheme: exit %d %s", r.code, r.stderr)
	}
	if r := stegoctl(t, "", "status", "--url", srv.URL, "--json"); r.code != exitOK || !strings.Contains(r.stdout, `"epoch":9`) {
		t.Fatalf("status --json: %d %q", r.code, r.stdout)
	}
	if r := stegoctl(t, "", "health", "--url", srv.URL+"/healthz"); r.code != exitOK {
		t.Fatalf("health of a 200: exit %d", r.code)
	}
	if r := stegoctl(t, "", "health", "--url", srv.URL+"/readyz"); r.code != exitFail {
		t.Fatalf("health of a 503: exit %d, want %d", r.code, exitFail)
	}
}
