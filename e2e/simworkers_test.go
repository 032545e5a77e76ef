//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/wire"
)

// BenchmarkSimulatedWorkers registers none, 100 and then 1,000 lightweight
// workers against the three real members of a compose/cluster.sh
// cluster: each has its own lease kept alive as a worker's is (every
// TTL/3) and rewrites its registry entry every
// DefaultConfig().WorkerRegistryEvery, as a real worker does, but serves
// nothing. It prints what the cluster pays for them (docs/scaling.md):
//
//	go test -tags e2e -run '^$' -bench SimulatedWorkers -benchtime 1x -timeout 20m ./e2e/
func BenchmarkSimulatedWorkers(b *testing.B) {
	const nginxPort, httpBase, peerBase = 8300, 8301, 12700
	c := newLocalCluster(b, nginxPort, httpBase, peerBase, "")
	tlsCfg, err := transport.TLSInfo{
		CertFile:      filepath.Join(c.dir, "certs", "stego-worker", "tls.crt"),
		KeyFile:       filepath.Join(c.dir, "certs", "stego-worker", "tls.key"),
		TrustedCAFile: filepath.Join(c.dir, "certs", "stego-worker", "ca.crt"),
	}.ClientConfig()
	if err != nil {
		b.Fatal(err)
	}
	endpoints := []string{}
	for i := range 3 {
		endpoints = append(endpoints, fmt.Sprintf("https://127.0.0.1:%d", peerBase+2*i+1))
	}
	nodeURL := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", httpBase+i-1) }
	newClient := func() *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsCfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		return cli
	}
	probe := newClient()
	defer probe.Close()

	var rows []string
	sim := &simulation{newClient: newClient}
	defer sim.stop()
	for _, n := range []int{0, 100, 1000} {
		sim.grow(b, n)
		time.Sleep(2 * coordinator.DefaultConfig().WorkerRegistryEvery) // every entry written at least once more
		r := c.measure(b, probe, nodeURL, 20*time.Second)
		r.workers = n
		r.appear = timeToAppear(b, sim, nodeURL, n)
		rows = append(rows, r.row())
		b.ReportMetric(r.writesPerSec, fmt.Sprintf("etcd-writes/s@%d", n))
		b.ReportMetric(r.memberCPU, fmt.Sprintf("member-cpu-%%@%d", n))
		b.ReportMetric(float64(r.statusP99.Microseconds())/1000, fmt.Sprintf("status-p99-ms@%d", n))
	}
	b.Logf("\n| workers | etcd writes/s | leader's state: size, writes/s, latency p50/p99 | /cluster/status: size, latency p50/p99 (member) | new worker in status (max over members) | members' CPU, %% of one core (mean / max) |\n| --- | --- | --- | --- | --- | --- |\n%s", strings.Join(rows, "\n"))
}

// simulation is a set of lightweight workers: a lease and a registry
// entry each, shared clients (one per 50: a worker's connection costs
// the members a stream, not CPU per second).
type simulation struct {
	newClient func() *clientv3.Client
	clients   []*clientv3.Client
	cancels   []context.CancelFunc
	wg        sync.WaitGroup
}

// grow adds workers until there are n.
func (s *simulation) grow(b *testing.B, n int) {
	for i := len(s.cancels); i < n; i++ {
		if i%50 == 0 { // a client per 50 workers
			s.clients = append(s.clients, s.newClient())
		}
		s.add(b, s.clients[len(s.clients)-1], fmt.Sprintf("sim-%04d", i))
	}
}

// add starts one simulated worker and returns once its entry is written.
func (s *simulation) add(b *testing.B, cli *clientv3.Client, id string) {
	cfg := coordinator.DefaultConfig()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancels = append(s.cancels, cancel)
	grant, err := cli.Grant(ctx, int64(cfg.WorkerRegistryTTL))
	if err != nil {
		b.Fatal(err)
	}
	keep, err := cli.KeepAlive(ctx, grant.ID)
	if err != nil {
		b.Fatal(err)
	}
	put := func() error {
		info := wire.NodeInfo{ID: id, IP: "127.0.0.1", HTTPPort: 1, Version: "sim", Worker: true, StartedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
			NodeMetrics: wire.NodeMetrics{CPUPct: 1.5, MemPct: 0.2, HostCPUPct: 30, HostMemPct: 40, RSSBytes: 40 << 20}}
		v, _ := json.Marshal(info)
		_, err := cli.Put(ctx, coordinator.WorkerKey(id), string(v), clientv3.WithLease(grant.ID))
		return err
	}
	if err := put(); err != nil {
		b.Fatal(err)
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		for range keep {
		}
	}()
	go func() {
		defer s.wg.Done()
		ticker := time.NewTicker(cfg.WorkerRegistryEvery)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				_ = put()
			}
		}
	}()
}

func (s *simulation) stop() {
	for _, cancel := range s.cancels {
		cancel()
	}
	s.wg.Wait()
	for _, c := range s.clients {
		c.Close()
	}
}

type simResult struct {
	workers                int
	writesPerSec           float64
	stateSize              int
	stateWritesPerSec      float64
	publishP50, publishP99 time.Duration
	statusSize             int
	statusP50, statusP99   time.Duration
	appear                 time.Duration
	memberCPU, memberCPUMx float64
}

func (r simResult) row() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("| %d | %.0f | %d B, %.2f/s, %s / %s ms | %d kB, %s / %s ms | %s ms | %.1f / %.1f |",
		r.workers, r.writesPerSec, r.stateSize, r.stateWritesPerSec, ms(r.publishP50), ms(r.publishP99),
		r.statusSize>>10, ms(r.statusP50), ms(r.statusP99), ms(r.appear), r.memberCPU, r.memberCPUMx)
}

// measure watches the cluster for d: etcd's write rate (revisions), the
// leader's state writes (size; latency from the leader's UpdatedAt to
// the watch event here), the members' CPU, and /cluster/status asked of
// each member in turn ten times a second.
func (c *localCluster) measure(b *testing.B, cli *clientv3.Client, nodeURL func(int) string, d time.Duration) simResult {
	var r simResult
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start, err := cli.Get(ctx, coordinator.StateKey)
	if err != nil {
		b.Fatal(err)
	}
	cpu0, t0 := c.membersCPU(b), time.Now()
	var publish []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for resp := range cli.Watch(ctx, coordinator.StateKey, clientv3.WithRev(start.Header.Revision+1)) {
			for _, ev := range resp.Events {
				var st wire.ClusterState
				if json.Unmarshal(ev.Kv.Value, &st) == nil {
					publish = append(publish, time.Since(st.UpdatedAt))
					r.stateSize = len(ev.Kv.Value)
				}
			}
		}
	}()
	// Status is timed by curl, a process of its own: the simulating
	// process, busy with a thousand registrants, would add its own
	// scheduling delays to the figure.
	var status []time.Duration
	for i := 0; ctx.Err() == nil; i++ {
		out, err := exec.Command("curl", "-fsS", "-o", os.DevNull, "-w", "%{time_total} %{size_download}",
			nodeURL(i%3+1)+"/cluster/status").Output()
		if err != nil {
			b.Fatalf("curl /cluster/status: %v", err)
		}
		var secs float64
		if _, err := fmt.Sscan(string(out), &secs, &r.statusSize); err != nil {
			b.Fatalf("curl's timing %q: %v", out, err)
		}
		status = append(status, time.Duration(secs*float64(time.Second)))
		time.Sleep(100 * time.Millisecond)
	}
	<-done
	elapsed := time.Since(t0)
	cpu1 := c.membersCPU(b)
	end, err := cli.Get(context.Background(), coordinator.StateKey)
	if err != nil {
		b.Fatal(err)
	}
	r.writesPerSec = float64(end.Header.Revision-start.Header.Revision) / elapsed.Seconds()
	r.stateWritesPerSec = float64(len(publish)) / elapsed.Seconds()
	r.publishP50, r.publishP99 = percentile(publish, 50), percentile(publish, 99)
	r.statusP50, r.statusP99 = percentile(status, 50), percentile(status, 99)
	for i := range cpu0 {
		pct := (cpu1[i] - cpu0[i]).Seconds() / elapsed.Seconds() * 100
		r.memberCPU += pct / float64(len(cpu0))
		r.memberCPUMx = max(r.memberCPUMx, pct)
	}
	return r
}

func percentile(d []time.Duration, p float64) time.Duration {
	ms := make([]float64, len(d))
	for i, v := range d {
		ms[i] = float64(v)
	}
	return time.Duration(wire.Percentile(ms, p))
}

// timeToAppear adds one more worker and returns how long until every
// member's /cluster/status lists it.
func timeToAppear(b *testing.B, sim *simulation, nodeURL func(int) string, n int) time.Duration {
	id := fmt.Sprintf("sim-new-%d", n)
	if len(sim.clients) == 0 {
		sim.clients = append(sim.clients, sim.newClient())
	}
	start := time.Now()
	sim.add(b, sim.clients[0], id)
	for m := 1; m <= 3; m++ {
		for {
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%s not in node %d's status after 30 s", id, m)
			}
			var st wire.ClusterState
			resp, err := http.Get(nodeURL(m) + "/cluster/status")
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&st)
				resp.Body.Close()
			}
			if err == nil && st.Node(id) != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// membersCPU is each member process's CPU time so far (user + system).
func (c *localCluster) membersCPU(b *testing.B) []time.Duration {
	out := make([]time.Duration, 3)
	for i := range out {
		pid, err := os.ReadFile(filepath.Join(c.dir, fmt.Sprintf("node%d.pid", i+1)))
		if err != nil {
			b.Fatal(err)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%s/stat", strings.TrimSpace(string(pid))))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command (which may hold spaces): utime and
		// stime are the 14th and 15th fields, in clock ticks (100/s).
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		out[i] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}
