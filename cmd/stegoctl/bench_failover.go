package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// runBench dispatches `stegoctl bench <what>`.
func runBench(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "failover" {
		return fmt.Errorf("%w: want `stegoctl bench failover [flags]`", errUsage)
	}
	return runBenchFailover(args[1:], stdout, stderr)
}

type failoverResult struct {
	Fault     string    `json:"fault"`
	Trials    int       `json:"trials"`
	P50Ms     float64   `json:"p50_ms"`
	P95Ms     float64   `json:"p95_ms"`
	P99Ms     float64   `json:"p99_ms"`
	MaxMs     float64   `json:"max_ms"`
	SamplesMs []float64 `json:"samples_ms"`
}

func runBenchFailover(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench failover", "[--fault kill|term|stop] [--trials N] [--json]", `  stegoctl bench failover                        # 20 SIGKILLs of the leader of a fresh local cluster
  stegoctl bench failover --fault term --trials 50 --json
  stegoctl bench failover --fault stop --stop-for 3s
`, stderr)
	fault := fs.String("fault", "kill", "kill (SIGKILL), term (SIGTERM) or stop (SIGSTOP for --stop-for, then SIGCONT)")
	trials := fs.Int("trials", 20, "faults to inject")
	asJSON := fs.Bool("json", false, "print JSON")
	stegod := fs.String("stegod", "", "stegod binary (default: next to stegoctl, else on PATH)")
	stopFor := fs.Duration("stop-for", 3*time.Second, "how long a stopped leader stays stopped")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *fault != "kill" && *fault != "term" && *fault != "stop" {
		return fmt.Errorf("%w: --fault %q (want kill, term or stop)", errUsage, *fault)
	}
	if *trials < 1 {
		return fmt.Errorf("%w: --trials must be at least 1", errUsage)
	}
	bin, err := findStegod(*stegod)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	c, err := startBenchCluster(ctx, bin)
	if err != nil {
		return err
	}
	defer c.close()
	res := failoverResult{Fault: *fault, Trials: *trials}
	for i := range *trials {
		d, err := c.trial(ctx, *fault, *stopFor)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		res.SamplesMs = append(res.SamplesMs, float64(d.Microseconds())/1000)
		fmt.Fprintf(stderr, "\rtrial %d/%d: new leader publishing after %.0f ms   ", i+1, *trials, res.SamplesMs[i])
	}
	fmt.Fprintln(stderr)
	sorted := slices.Sorted(slices.Values(res.SamplesMs))
	pct := func(p float64) float64 { return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))] }
	res.P50Ms, res.P95Ms, res.P99Ms, res.MaxMs = pct(0.50), pct(0.95), pct(0.99), sorted[len(sorted)-1]
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "fault %s, %d trials: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		res.Fault, res.Trials, res.P50Ms, res.P95Ms, res.P99Ms, res.MaxMs)
	return nil
}

func findStegod(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "stegod"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("stegod"); err == nil {
		return p, nil
	}
	return "", errors.New("no stegod binary next to stegoctl or on PATH (go build ./cmd/stegod, or --stegod)")
}

func isExecutable(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// benchCluster is three stegod processes on loopback in a temporary
// directory, which close removes.
type benchCluster struct {
	bin    string
	dir    string
	env    [3][]string
	http   [3]string
	procs  [3]*exec.Cmd
	exited [3]chan struct{} // closed when the process has been reaped
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startBenchCluster(ctx context.Context, bin string) (*benchCluster, error) {
	dir, err := os.MkdirTemp("", "stegoctl-bench-")
	if err != nil {
		return nil, err
	}
	c := &benchCluster{bin: bin, dir: dir}
	var ports [9]int
	for i := range ports {
		if ports[i], err = freeLoopbackPort(); err != nil {
			c.close()
			return nil, err
		}
	}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("n%d=http://127.0.0.1:%d", i+1, ports[3*i+1]))
	}
	for i := range 3 {
		c.http[i] = fmt.Sprintf("http://127.0.0.1:%d", ports[3*i])
		c.env[i] = append(os.Environ(),
			fmt.Sprintf("NODE_ID=n%d", i+1), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", ports[3*i]),
			fmt.Sprintf("PEER_URL=http://127.0.0.1:%d", ports[3*i+1]), fmt.Sprintf("CLIENT_URL=http://127.0.0.1:%d", ports[3*i+2]),
			"INITIAL_CLUSTER="+strings.Join(initial, ","), "DATA_DIR="+filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			"CLUSTER_TOKEN=bench", "ADMIN_TOKEN=bench", "LOG_LEVEL=warn")
		if err := c.start(i); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := c.waitHealthy(ctx, 60*time.Second); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *benchCluster) start(i int) error {
	logf, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("n%d.log", i+1)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env[i], logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start stegod: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	c.procs[i], c.exited[i] = cmd, exited
	return nil
}

func (c *benchCluster) close() {
	for i, p := range c.procs {
		if p != nil && p.Process != nil {
			p.Process.Signal(syscall.SIGCONT)
			p.Process.Kill()
			<-c.exited[i]
		}
	}
	os.RemoveAll(c.dir)
}

var benchHTTP = &http.Client{Timeout: 500 * time.Millisecond}

func (c *benchCluster) status(i int) (*clusterStatus, error) {
	resp, err := benchHTTP.Get(c.http[i] + "/cluster/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var s clusterStatus
	return &s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitHealthy waits until all three nodes serve the same state — same
// leader, same epoch — with three healthy nodes. (A node just resumed
// from SIGSTOP serves its old state for a moment; a trial must not start
// from that.)
func (c *benchCluster) waitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := c.agreedState(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("cluster not healthy after %s (logs in %s)", timeout, c.dir)
}

// agreedState returns the state all three nodes serve, or an error if
// they differ or any is unhealthy.
func (c *benchCluster) agreedState() (*clusterStatus, error) {
	var first *clusterStatus
	for i := range 3 {
		s, err := c.status(i)
		if err != nil {
			return nil, err
		}
		healthy := 0
		for _, n := range s.Nodes {
			if n.Healthy {
				healthy++
			}
		}
		if s.LeaderID == "" || healthy != 3 || (first != nil && (s.LeaderID != first.LeaderID || s.Epoch != first.Epoch)) {
			return nil, errors.New("nodes disagree or are unhealthy")
		}
		first = s
	}
	return first, nil
}

// trial injects one fault into the leader and returns how long until a
// surviving node serves state published by a new leader.
func (c *benchCluster) trial(ctx context.Context, fault string, stopFor time.Duration) (time.Duration, error) {
	before, err := c.agreedState()
	if err != nil {
		return 0, err
	}
	victim := -1
	for i := range 3 {
		if fmt.Sprintf("n%d", i+1) == before.LeaderID {
			victim = i
		}
	}
	if victim < 0 {
		return 0, fmt.Errorf("leader %q is not one of ours", before.LeaderID)
	}
	observer := (victim + 1) % 3
	sig := map[string]syscall.Signal{"kill": syscall.SIGKILL, "term": syscall.SIGTERM, "stop": syscall.SIGSTOP}[fault]
	start := time.Now()
	if err := c.procs[victim].Process.Signal(sig); err != nil {
		return 0, err
	}
	var took time.Duration
	for {
		if s, err := c.status(observer); err == nil && s.LeaderID != before.LeaderID && s.LeaderID != "" && s.Epoch > before.Epoch {
			took = time.Since(start)
			break
		}
		if time.Since(start) > 30*time.Second || ctx.Err() != nil {
			return 0, fmt.Errorf("no new leader 30 s after %s of %s", fault, before.LeaderID)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if fault == "stop" {
		time.Sleep(max(0, stopFor-time.Since(start)))
		c.procs[victim].Process.Signal(syscall.SIGCONT)
	} else {
		select {
		case <-c.exited[victim]:
		case <-time.After(15 * time.Second):
			return 0, fmt.Errorf("%s did not exit after %s", before.LeaderID, fault)
		}
		if err := c.start(victim); err != nil {
			return 0, err
		}
	}
	return took, c.waitHealthy(ctx, 60*time.Second)
}
