package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/stegocluster/stegocluster/internal/poll"
	"github.com/stegocluster/stegocluster/wire"
)

// runBench dispatches `stegoctl bench <what>`.
func runBench(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stderr, "Usage: stegoctl bench failover [flags]: one benchmark so far; `stegoctl bench failover --help` for its flags and examples.")
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "failover" {
		return fmt.Errorf("%w: want `stegoctl bench failover [flags]`", errUsage)
	}
	return runBenchFailover(args[1:], stdout, stderr)
}

// failoverResult is what `bench failover --json` prints. Failover is
// the time from the fault to a surviving node serving state published by
// a new leader; restart is the time from restarting (or resuming) the
// victim to all three nodes healthy and agreeing again.
type failoverResult struct {
	Fault            string    `json:"fault"`
	Target           string    `json:"target"`
	Trials           int       `json:"trials"`
	P50Ms            float64   `json:"p50_ms"`
	P95Ms            float64   `json:"p95_ms"`
	P99Ms            float64   `json:"p99_ms"`
	MaxMs            float64   `json:"max_ms"`
	SamplesMs        []float64 `json:"samples_ms"`
	RestartP50Ms     float64   `json:"restart_p50_ms"`
	RestartMaxMs     float64   `json:"restart_max_ms"`
	RestartSamplesMs []float64 `json:"restart_samples_ms"`
}

func runBenchFailover(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench failover", "[--fault kill|term|stop] [--trials N] [--docker | --cluster-dir DIR] [--json]",
		`  stegoctl bench failover                        # 20 SIGKILLs of the leader of a fresh local cluster
  stegoctl bench failover --fault term --trials 50 --json
  stegoctl bench failover --fault stop --stop-for 3s
  stegoctl bench failover --docker               # the running compose stack (containers stego-node1..3)
  stegoctl bench failover --cluster-dir /tmp/stegocluster   # a running compose/cluster.sh cluster
`, stderr)
	fault := fs.String("fault", "kill", "kill (SIGKILL), term (SIGTERM) or stop (SIGSTOP for --stop-for, then SIGCONT)")
	trials := fs.Int("trials", 20, "faults to inject")
	asJSON := fs.Bool("json", false, "print JSON")
	stegod := fs.String("stegod", "", "stegod binary for the benchmark's own cluster (default: next to stegoctl, else on PATH)")
	stopFor := fs.Duration("stop-for", 3*time.Second, "how long a stopped leader stays stopped")
	useDocker := fs.Bool("docker", false, "inject faults into the running compose stack instead of a cluster of our own")
	containers := fs.String("containers", "stego-node1,stego-node2,stego-node3", "with --docker: the node containers")
	clusterDir := fs.String("cluster-dir", "", "inject faults into the running compose/cluster.sh cluster in this directory")
	plaintext := fs.Bool("plaintext-etcd", false, "the benchmark's own cluster without etcd's mutual TLS (to compare)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *fault != "kill" && *fault != "term" && *fault != "stop" {
		return fmt.Errorf("%w: --fault %q (want kill, term or stop)", errUsage, *fault)
	}
	if *trials < 1 {
		return fmt.Errorf("%w: --trials must be at least 1", errUsage)
	}
	if *useDocker && *clusterDir != "" {
		return fmt.Errorf("%w: --docker and --cluster-dir exclude each other", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var target faultTarget
	var err error
	switch {
	case *useDocker:
		target, err = newDockerTarget(ctx, splitList(*containers))
	case *clusterDir != "":
		target, err = newScriptTarget(*clusterDir)
	default:
		var bin string
		if bin, err = findStegod(*stegod); err == nil {
			target, err = startProcessCluster(ctx, bin, *plaintext)
		}
	}
	if err != nil {
		return err
	}
	defer target.Close()
	b := &failoverBench{target: target, http: &http.Client{Timeout: 500 * time.Millisecond}}
	if err := b.waitAgreed(ctx, 60*time.Second); err != nil {
		return err
	}

	res := failoverResult{Fault: *fault, Target: target.Name(), Trials: *trials}
	for i := range *trials {
		took, restart, err := b.trial(ctx, *fault, *stopFor)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		res.SamplesMs = append(res.SamplesMs, ms(took))
		res.RestartSamplesMs = append(res.RestartSamplesMs, ms(restart))
		fmt.Fprintf(stderr, "\rtrial %d/%d: new leader publishing after %.0f ms, victim healthy again %.0f ms after restart   ",
			i+1, *trials, ms(took), ms(restart))
	}
	fmt.Fprintln(stderr)
	res.P50Ms, res.P95Ms, res.P99Ms, res.MaxMs = wire.Percentile(res.SamplesMs, 50), wire.Percentile(res.SamplesMs, 95),
		wire.Percentile(res.SamplesMs, 99), wire.Percentile(res.SamplesMs, 100)
	res.RestartP50Ms, res.RestartMaxMs = wire.Percentile(res.RestartSamplesMs, 50), wire.Percentile(res.RestartSamplesMs, 100)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "fault %s on %s, %d trials: failover p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms; restart to healthy p50 %.0f ms, max %.0f ms\n",
		res.Fault, res.Target, res.Trials, res.P50Ms, res.P95Ms, res.P99Ms, res.MaxMs, res.RestartP50Ms, res.RestartMaxMs)
	return nil
}

// failoverBench runs trials against a target.
type failoverBench struct {
	target faultTarget
	http   *http.Client
}

func (b *failoverBench) status(ctx context.Context, url string) (*wire.ClusterState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/cluster/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var s wire.ClusterState
	return &s, json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s)
}

var errDisagree = errors.New("nodes disagree or are unhealthy")

// agreedState returns the state all three nodes serve, or an error if
// they differ or any is unhealthy. (A node just resumed from SIGSTOP
// serves its old state for a moment; a trial must not start from that.)
func (b *failoverBench) agreedState(ctx context.Context) (*wire.ClusterState, error) {
	var first *wire.ClusterState
	for _, id := range b.target.Nodes() {
		s, err := b.status(ctx, b.target.URL(id))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if s.LeaderID == "" || s.HealthyCount() != 3 || (first != nil && (s.LeaderID != first.LeaderID || s.Epoch != first.Epoch)) {
			return nil, errDisagree
		}
		first = s
	}
	return first, nil
}

// waitAgreed waits until agreedState succeeds and raft leadership has
// left the leader's member — the steady state a fault should hit, as it
// is in service — or the timeout passes.
func (b *failoverBench) waitAgreed(ctx context.Context, timeout time.Duration) error {
	var last error
	steady := func() bool {
		s, err := b.agreedState(ctx)
		if err == nil && (s.RaftLeader == "" || s.RaftLeader == s.LeaderID) {
			err = fmt.Errorf("raft leadership still on the leader %s's member", s.LeaderID)
		}
		last = err
		return err == nil
	}
	if err := poll.Until(ctx, timeout, "a healthy, agreed cluster", steady); err != nil {
		return fmt.Errorf("%w (last: %v); %s", err, last, b.target.Hint())
	}
	return nil
}

// trial injects one fault into the leader and returns how long until a
// surviving node serves state published by a new leader, and how long
// the victim took from its restart (or SIGCONT) to a healthy, agreed
// cluster.
func (b *failoverBench) trial(ctx context.Context, fault string, stopFor time.Duration) (failover, restart time.Duration, err error) {
	before, err := b.agreedState(ctx)
	if err != nil {
		return 0, 0, err
	}
	victim, observer := before.LeaderID, ""
	for _, id := range b.target.Nodes() {
		if id != victim {
			observer = id
			break
		}
	}
	if !slices.Contains(b.target.Nodes(), victim) {
		return 0, 0, fmt.Errorf("leader %q is not one of %v", victim, b.target.Nodes())
	}
	sig := map[string]syscall.Signal{"kill": syscall.SIGKILL, "term": syscall.SIGTERM, "stop": syscall.SIGSTOP}[fault]
	start := time.Now()
	if err := b.target.Signal(ctx, victim, sig); err != nil {
		return 0, 0, err
	}
	for {
		if s, err := b.status(ctx, b.target.URL(observer)); err == nil && s.LeaderID != victim && s.LeaderID != "" && s.Epoch > before.Epoch {
			failover = time.Since(start)
			break
		}
		if time.Since(start) > 30*time.Second || ctx.Err() != nil {
			b.target.Signal(context.WithoutCancel(ctx), victim, syscall.SIGCONT)
			return 0, 0, fmt.Errorf("no new leader 30 s after %s of %s", fault, victim)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var restarted time.Time
	if fault == "stop" {
		time.Sleep(max(0, stopFor-time.Since(start)))
		restarted = time.Now()
		if err := b.target.Signal(ctx, victim, syscall.SIGCONT); err != nil {
			return 0, 0, err
		}
	} else {
		if err := b.target.WaitExited(ctx, victim, 15*time.Second); err != nil {
			return 0, 0, err
		}
		restarted = time.Now()
		if err := b.target.Restart(ctx, victim); err != nil {
			return 0, 0, err
		}
	}
	for {
		if _, err := b.agreedState(ctx); err == nil {
			restart = time.Since(restarted)
			break
		}
		if time.Since(restarted) > 60*time.Second || ctx.Err() != nil {
			return 0, 0, fmt.Errorf("%s not healthy 60 s after its restart; %s", victim, b.target.Hint())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return failover, restart, b.waitAgreed(ctx, 60*time.Second)
}
