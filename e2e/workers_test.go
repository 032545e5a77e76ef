//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
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
