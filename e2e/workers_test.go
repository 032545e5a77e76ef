//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// TestLocalClusterScalesWorkers: under load through nginx, the cluster
// grows from 0 to 4 stateless workers and shrinks to 1
// (compose/cluster.sh add-worker / remove-worker) with no failed request
// and every round trip verified; the workers show in the status as
// Workers and take a share of the requests.
func TestLocalClusterScalesWorkers(t *testing.T) {
	c := startLocalCluster(t)
	steadyState(t, c.nginx)
	bin := filepath.Join(t.TempDir(), "stegoctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/stegoctl").CombinedOutput(); err != nil {
		t.Fatalf("build stegoctl: %v\n%s", err, out)
	}
	load := startLoad(t, bin, c.nginx)
	time.Sleep(2 * time.Second)

	workers := func(st *wire.ClusterState) (n, healthy int) {
		for _, node := range st.Nodes {
			if node.Role == wire.RoleWorker {
				n++
				if node.Healthy {
					healthy++
				}
			}
		}
		return n, healthy
	}
	scaleTo := func(want int, verb string, times int) {
		t.Helper()
		for range times {
			start := time.Now()
			if out, err := c.script(verb); err != nil {
				t.Fatalf("cluster.sh %s: %v\n%s", verb, err, out)
			}
			t.Logf("cluster.sh %s: %s", verb, time.Since(start).Round(time.Millisecond))
		}
		testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("%d healthy workers in the status", want), func() bool {
			st, err := getStatus(c.nginx)
			if err != nil {
				return false
			}
			n, healthy := workers(st)
			return n == want && healthy == want
		})
		time.Sleep(3 * time.Second) // serving under load at this size
	}
	scaleTo(4, "add-worker", 4)
	scaleTo(1, "remove-worker", 3)

	res := load.stop(t)
	t.Logf("load: %d requests, %d ok, %d failed %v, %.1f req/s, p99 %.0f ms, per node %v",
		res.Total, res.OK, res.Failed, res.Failures, res.ThroughputRPS, res.Latency.P99, res.PerNode)
	if res.Total == 0 {
		t.Fatal("the load generator made no request")
	}
	if res.Failed > 0 {
		t.Errorf("%d of %d requests failed while workers joined and left: %v %v", res.Failed, res.Total, res.Failures, res.Errors)
	}
	served := 0
	for i := 1; i <= 4; i++ {
		served += res.PerNode[fmt.Sprintf("stego-worker%d", i)]
	}
	if served == 0 {
		t.Errorf("no request reached a worker: per node %v", res.PerNode)
	}
}

// composeScaleWorkers: on the compose stack, `up -d --scale
// stego-worker=N` adds and removes workers under load through nginx, no
// request fails and every round trip is verified, and nginx sends the
// workers requests (nginx/workers.sh keeps its upstream in step).
func composeScaleWorkers(t *testing.T, c *compose, base string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stegoctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/stegoctl").CombinedOutput(); err != nil {
		t.Fatalf("build stegoctl: %v\n%s", err, out)
	}
	load := startLoad(t, bin, base)
	// Beside the hides, quick calls many times a second: they meet a
	// worker that just exited (refused at once, still in nginx's
	// upstream until its next reload) far more often. Scaling in by
	// three used to answer one of them 502.
	probe := startQuickCalls(t, base+"/api/dataset/1")
	time.Sleep(2 * time.Second)
	for _, n := range []int{4, 1} {
		start := time.Now()
		if out, err := c.run("up", "-d", "--no-recreate", "--scale", fmt.Sprintf("stego-worker=%d", n)); err != nil {
			t.Fatalf("scale stego-worker=%d: %v\n%s", n, err, out)
		}
		testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d healthy workers in the status", n), func() bool {
			st, err := getStatus(base)
			if err != nil {
				return false
			}
			count := 0
			for _, node := range st.Nodes {
				if node.Role == wire.RoleWorker && node.Healthy {
					count++
				}
			}
			return count == n
		})
		t.Logf("scaled to %d workers in %s", n, time.Since(start).Round(time.Millisecond))
		// Workers take addresses from the network's upper half, so one
		// started while a member is down cannot take the member's fixed
		// address and keep it from starting again.
		out, err := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+composeProject,
			"--filter", "label=com.docker.compose.service=stego-worker").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range strings.Fields(string(out)) {
			ipOut, err := exec.Command("docker", "inspect", "-f", `{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}`, id).Output()
			ip := net.ParseIP(strings.TrimSpace(string(ipOut))).To4()
			if err != nil || ip == nil || ip[3] < 128 {
				t.Errorf("worker %s has address %q, want one in 172.28.0.128/25", id, ipOut)
			}
		}
		time.Sleep(3 * time.Second) // serving under load at this size
	}
	res := load.stop(t)
	t.Logf("load: %d requests, %d ok, %d failed %v, p99 %.0f ms, per node %v",
		res.Total, res.OK, res.Failed, res.Failures, res.Latency.P99, res.PerNode)
	if res.Failed > 0 {
		t.Errorf("%d of %d requests failed while workers joined and left: %v %v", res.Failed, res.Total, res.Failures, res.Errors)
	}
	total, failed := probe()
	t.Logf("quick calls: %d, failed %v", total, failed)
	if len(failed) > 0 || total < 100 {
		t.Errorf("quick calls while workers joined and left: %d made, failed: %v", total, failed)
	}
	workers := 0
	for id, count := range res.PerNode {
		if !strings.HasPrefix(id, "stego-node") {
			workers += count
		}
	}
	if workers == 0 {
		t.Errorf("no request reached a worker: per node %v", res.PerNode)
	}
}

// startQuickCalls GETs url in a loop, one call at a time, until the
// returned function is called (or for at most five minutes), which
// returns how many calls were made and what each failed one got.
func startQuickCalls(t *testing.T, url string) func() (int, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	done := make(chan struct{})
	var total int
	var failed []string
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 10 * time.Second}
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				failed = append(failed, err.Error())
				return
			}
			resp, err := client.Do(req)
			if ctx.Err() != nil {
				return // stopped mid-call: not the cluster's failure
			}
			total++
			switch {
			case err != nil:
				failed = append(failed, err.Error())
			case resp.StatusCode != http.StatusOK:
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
				failed = append(failed, fmt.Sprintf("%d %s", resp.StatusCode, body))
			}
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	t.Cleanup(cancel)
	return func() (int, []string) {
		cancel()
		<-done
		return total, failed
	}
}
