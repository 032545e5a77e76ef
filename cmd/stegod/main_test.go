package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// TestNodeServesAndShutsDownInTime starts a real single-node cluster the
// way `go run ./cmd/stegod` does (defaults, but free ports and a temp
// data dir), checks it elects itself and serves, then stops it as SIGTERM
// would and checks that it is gone well within 10 s.
func TestNodeServesAndShutsDownInTime(t *testing.T) {
	ports := testenv.FreePorts(t, 3) // distinct: HTTP, raft peers, etcd clients
	httpPort := ports[0]
	s := settings{
		NodeID: "solo", HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPort), AdvertiseIP: "127.0.0.1",
		DataDir: t.TempDir(), PeerURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2]), ClusterToken: "t",
		TickMs: 50, ElectionMs: 250, LeaseTTL: 1, KeepAlive: 50 * time.Millisecond, ReadyTimeout: 20 * time.Second,
		Workers: 2, Queue: 4, MaxUploadMB: 50, MaxPixels: 50_000_000, JobTimeout: time.Minute,
		AdminToken: "tok", ShutdownTimeout: 8 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, s, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	var status struct {
		LeaderID string `json:"leader_id"`
		Nodes    []struct {
			ID      string `json:"id"`
			Role    string `json:"role"`
			Healthy bool   `json:"healthy"`
		} `json:"nodes"`
	}
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
	case <-time.After(15 * time.Second):
		t.Fatal("node did not stop within 15 s")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
