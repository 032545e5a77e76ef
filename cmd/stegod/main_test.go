package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// TestNodeServesAndShutsDownInTime starts a real single-node cluster the
// way `go run ./cmd/stegod` does (defaults, but free ports and a temp
// data dir), checks it elects itself and serves, then stops it as SIGTERM
// would and checks that it is gone well within 10 s — and that neither
// the start nor the stop logged an error: etcd's routine start-up
// messages must not look like failures to an operator.
func TestNodeServesAndShutsDownInTime(t *testing.T) {
	ports := testenv.FreePorts(t, 3) // distinct: HTTP, raft peers, etcd clients
	httpPort := ports[0]
	s := defaultSettings()
	s.NodeID = "solo"
	s.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", httpPort)
	s.DataDir = t.TempDir()
	s.PeerURL = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s.ClientURL = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	s.AdminToken = "solo-admin-token-for-tests"
	s.defaultWorkers()
	var logs testenv.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, s, logger) }()

	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var status wire.ClusterState
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/cluster/status")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&status)
			resp.Body.Close()
			if resp.StatusCode == 200 && err == nil && status.LeaderID == "solo" && len(status.Nodes) == 1 && status.Nodes[0].Healthy {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never published a healthy status: %+v %v", status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}

	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if d := time.Since(stopped); d > 10*time.Second {
			t.Fatalf("shutdown took %s", d)
		}
		t.Logf("shut down in %s", time.Since(stopped))
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("logged an error on a normal start and stop: %s", line)
			}
		}
	case <-time.After(15 * time.Second):
		t.Fatal("node did not stop within 15 s")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
