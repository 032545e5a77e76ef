//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// The chaos suite: the compose stack with `stegoctl load` running
// through nginx the whole time, and one fault per scenario. After each
// it checks the invariants of docs/failover.md: no failed client request
// while at most one node is down, every hidden secret revealed byte for
// byte, the published state's epoch never going backwards in etcd's
// history, exactly one leader that every node agrees on, and nothing
// left running.

var chaosNodes = []string{"stego-node1", "stego-node2", "stego-node3"}

// chaosScenario is one fault and how to recover from it.
type chaosScenario struct {
	name string
	// zeroErrors: at most one node is down throughout, so no client
	// request may fail, but for cutsInFlight answers cut in flight.
	zeroErrors bool
	// cutsInFlight: a node cut off the network while it hands an answer
	// to nginx leaves nginx half an answer whose first bytes it has
	// already sent to the client, and which it therefore cannot retry
	// elsewhere; the client sees the answer end early ("reading answer:
	// unexpected EOF"). Such a cut, and no other failure, is allowed this
	// many times (docs/failover.md, "Answers cut in flight").
	cutsInFlight int
	run          func(t *testing.T, c *chaosCluster, before *wire.ClusterState)
}

func chaosScenarios() []chaosScenario {
	return []chaosScenario{
		{"1-kill-leader", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			c.docker(t, "kill", "-s", "KILL", st.LeaderID)
			c.waitNewLeader(t, st)
			c.restartAfterExit(t, st.LeaderID)
		}},
		{"2-kill-follower", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			c.crashAndRestart(t, c.follower(t, st), "KILL")
		}},
		{"3-kill-raft-leader-not-ours", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			if st.RaftLeader == st.LeaderID {
				t.Fatalf("steady state has raft leadership on the leader %s", st.LeaderID)
			}
			c.crashAndRestart(t, st.RaftLeader, "KILL")
		}},
		{"4-term-leader", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			c.docker(t, "kill", "-s", "TERM", st.LeaderID)
			c.waitNewLeader(t, st)
			c.restartAfterExit(t, st.LeaderID)
		}},
		{"5-stop-leader-3s", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			c.docker(t, "kill", "-s", "STOP", st.LeaderID)
			c.waitNewLeader(t, st)
			time.Sleep(3 * time.Second)
			c.docker(t, "kill", "-s", "CONT", st.LeaderID)
		}},
		{"6-partition-leader-5s", true, 1, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			ip := c.ips[st.LeaderID]
			c.docker(t, "network", "disconnect", c.network, st.LeaderID)
			c.waitNewLeader(t, st)
			time.Sleep(5 * time.Second)
			c.docker(t, "network", "connect", "--ip", ip, c.network, st.LeaderID)
		}},
		{"7-rolling-restart", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			for _, n := range chaosNodes {
				c.docker(t, "stop", "-t", "15", n)
				c.start(t, n)
				c.waitAgreed(t, 60*time.Second)
			}
		}},
		{"8-full-stop-start", false, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			c.composeCmd(t, "stop")
			c.markStarted(chaosNodes...)
			c.composeCmd(t, "start")
			c.waitAgreed(t, 90*time.Second)
			after := c.waitAgreed(t, time.Second)
			if !sameMembers(st, after) {
				t.Fatalf("etcd members changed across a full restart with data kept:\nbefore %+v\nafter  %+v", st.Nodes, after.Nodes)
			}
		}},
		{"9-replace-wiped-node", true, 0, func(t *testing.T, c *chaosCluster, st *wire.ClusterState) {
			c.replaceWiped(t, c.follower(t, st), st)
		}},
	}
}

func TestChaos(t *testing.T) {
	c := startChaosCluster(t)
	goroutines := runtime.NumGoroutine()
	for _, sc := range chaosScenarios() {
		if !t.Run(sc.name, func(t *testing.T) { c.scenario(t, sc) }) {
			break // the cluster may be in no state for the next fault
		}
	}
	t.Logf("summary (docs/failover.md):\n| scenario | fault → new leader's first state | client requests | failed | p99 / max latency | state writes checked |\n| --- | --- | --- | --- | --- | --- |\n%s",
		strings.Join(c.summary, "\n"))
	// Nothing of ours left running in this process (idle keep-alive
	// connections have goroutines of their own).
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	testenv.WaitFor(t, 10*time.Second, "the test's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines+2 })
}

// chaosCluster is the compose stack under test.
type chaosCluster struct {
	*compose
	base    string // nginx
	urls    map[string]string
	ips     map[string]string
	network string
	etcd    *clientv3.Client
	loadBin string
	summary []string // one table row per scenario
	// startedAt is when a node's container was last (re)started: until
	// the state shows an entry the node made after that, its old entry
	// (alive until its lease expires) may still count it healthy, and
	// the cluster is not steady.
	startedAt map[string]time.Time
}

func startChaosCluster(t *testing.T) *chaosCluster {
	c := &chaosCluster{compose: newCompose(t), urls: map[string]string{}, ips: map[string]string{}, startedAt: map[string]time.Time{}}
	if out, err := exec.Command("docker/build-images.sh").CombinedOutput(); err != nil {
		t.Fatalf("build images: %v\n%s", err, out)
	}
	c.loadBin = filepath.Join(t.TempDir(), "stegoctl")
	if out, err := exec.Command("go", "build", "-o", c.loadBin, "../cmd/stegoctl").CombinedOutput(); err != nil {
		t.Fatalf("build stegoctl: %v\n%s", err, out)
	}
	c.run("down", "-v", "--remove-orphans")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run("logs", "--tail", "40")
			t.Logf("compose logs:\n%s", out)
		}
		if c.etcd != nil {
			c.etcd.Close()
		}
		if out, err := c.run("down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	c.composeCmd(t, "up", "-d")
	c.base = fmt.Sprintf("http://127.0.0.1:%d", c.port)
	c.network = composeProject + "_stegonet"
	var endpoints []string
	for _, n := range chaosNodes {
		out := c.docker(t, "inspect", "-f", `{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}`, n)
		c.ips[n] = strings.TrimSpace(out)
		c.urls[n] = "http://" + c.ips[n] + ":8080"
		endpoints = append(endpoints, "https://"+c.ips[n]+":2379")
	}
	tlsCfg := composeEtcdTLS(t, c.compose)
	var err error
	c.etcd, err = clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, TLS: tlsCfg})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	c.waitAgreed(t, 120*time.Second)
	return c
}

// scenario runs one fault under load and checks every invariant.
func (c *chaosCluster) scenario(t *testing.T, sc chaosScenario) {
	before := c.waitAgreed(t, 60*time.Second)
	startRev := c.revision(t)
	load := c.startLoad(t)
	time.Sleep(2 * time.Second) // load in full swing before the fault
	faultAt := time.Now()
	sc.run(t, c, before)
	after := c.waitAgreed(t, 90*time.Second)
	t.Logf("recovered %s after the fault: leader %s (was %s), epoch %d (was %d)",
		time.Since(faultAt).Round(time.Millisecond), after.LeaderID, before.LeaderID, after.Epoch, before.Epoch)
	time.Sleep(2 * time.Second) // and serving under load after it
	res := load.stop(t)

	t.Logf("load: %d requests, %d ok, %d failed %v, %.1f req/s, p99 %.0f ms, per node %v",
		res.Total, res.OK, res.Failed, res.Failures, res.ThroughputRPS, res.Latency.P99, res.PerNode)
	if res.Total == 0 {
		t.Fatal("the load generator made no request")
	}
	if n := res.Failures["verify"]; n > 0 {
		t.Errorf("%d hidden secrets did not come back byte for byte: %v", n, res.Errors)
	}
	if cut := cutInFlight(res); sc.zeroErrors && res.Failed > 0 {
		if cut == res.Failed && cut <= sc.cutsInFlight {
			t.Logf("%d answer(s) cut in flight by the fault, allowed here: %v", cut, res.Errors)
		} else {
			t.Errorf("%d of %d client requests failed with at most one node down: %v %v", res.Failed, res.Total, res.Failures, res.Errors)
		}
	}
	history := c.checkEpochHistory(t, startRev)
	c.checkOneLeader(t)
	// The failover time from the state itself: the first write of a new
	// leader carries the time it was built (containers share the host's
	// clock), so polling delays do not count.
	// Only states written after the fault count: a leader change in the
	// seconds of load before it (the history starts before the load) is
	// not the fault's doing, and once made this report negative (−1.06 s
	// in scenario 9). Such a change is reported on its own.
	failover := "— (leader kept)"
	for _, s := range history {
		if s.Epoch <= before.Epoch || s.LeaderID == before.LeaderID {
			continue
		}
		if s.UpdatedAt.Before(faultAt) {
			t.Logf("leadership moved to %s (epoch %d) %s before the fault, not because of it",
				s.LeaderID, s.Epoch, faultAt.Sub(s.UpdatedAt).Round(time.Millisecond))
			failover = "— (leader changed before the fault)"
			continue
		}
		failover = s.UpdatedAt.Sub(faultAt).Round(time.Millisecond).String()
		break
	}
	c.summary = append(c.summary, fmt.Sprintf("| %s | %s | %d | %d | %.0f ms / %.0f ms | %d |", sc.name, failover, res.Total, res.Failed, res.Latency.P99, res.Latency.Max, len(history)))
	c.checkNothingLeftBehind(t)
}

// waitAgreed waits until every node serves the same leader and epoch
// with three healthy nodes, and raft leadership is off the leader's
// member (the steady state), and returns that state.
func (c *chaosCluster) waitAgreed(t *testing.T, timeout time.Duration) *wire.ClusterState {
	t.Helper()
	var agreed *wire.ClusterState
	var last error
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		agreed, last = c.agreed()
		if last == nil && agreed.RaftLeader != "" && agreed.RaftLeader != agreed.LeaderID {
			return agreed
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no agreed steady state after %s: %v", timeout, last)
	return nil
}

func (c *chaosCluster) agreed() (*wire.ClusterState, error) {
	var first *wire.ClusterState
	for _, n := range chaosNodes {
		s, err := getStatusWithin(c.urls[n], time.Second)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if s.LeaderID == "" || s.HealthyCount() != 3 {
			return nil, fmt.Errorf("%s: leader %q, %d healthy", n, s.LeaderID, s.HealthyCount())
		}
		for node, at := range c.startedAt {
			if e := s.Node(node); e == nil || e.StartedAt.Before(at) {
				return nil, fmt.Errorf("%s: the state still shows %s's entry from before its restart", n, node)
			}
		}
		if first != nil && (s.LeaderID != first.LeaderID || s.Epoch != first.Epoch) {
			return nil, fmt.Errorf("%s serves leader %s epoch %d, %s serves %s epoch %d", n, s.LeaderID, s.Epoch, chaosNodes[0], first.LeaderID, first.Epoch)
		}
		if first == nil {
			first = s
		}
	}
	return first, nil
}

// waitNewLeader waits until a surviving node serves state from a leader
// other than old's.
func (c *chaosCluster) waitNewLeader(t *testing.T, old *wire.ClusterState) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, "a new leader", func() bool {
		for _, n := range chaosNodes {
			if n == old.LeaderID {
				continue
			}
			s, err := getStatusWithin(c.urls[n], 200*time.Millisecond)
			if err == nil && s.LeaderID != "" && s.LeaderID != old.LeaderID && s.Epoch > old.Epoch {
				return true
			}
		}
		return false
	})
}

func (c *chaosCluster) follower(t *testing.T, st *wire.ClusterState) string {
	for _, n := range chaosNodes {
		if n != st.LeaderID {
			return n
		}
	}
	t.Fatal("no follower")
	return ""
}

// crashAndRestart signals a node's process, waits for the container to
// exit and starts it again with its data.
func (c *chaosCluster) crashAndRestart(t *testing.T, node, signal string) {
	t.Helper()
	c.docker(t, "kill", "-s", signal, node)
	c.restartAfterExit(t, node)
}

// restartAfterExit waits for a signalled node's container to exit and
// starts it again with its data.
func (c *chaosCluster) restartAfterExit(t *testing.T, node string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, node+" to exit", func() bool {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", node).Output()
		return err == nil && strings.TrimSpace(string(out)) == "false"
	})
	c.start(t, node)
}

// start starts a stopped node's container (see startedAt).
func (c *chaosCluster) start(t *testing.T, node string) {
	t.Helper()
	c.markStarted(node)
	c.docker(t, "start", node)
}

// markStarted notes that nodes are being started now (see startedAt).
// The time is taken a little early: container clocks are the host's,
// and a start cannot register before it began.
func (c *chaosCluster) markStarted(nodes ...string) {
	for _, n := range nodes {
		c.startedAt[n] = time.Now().Add(-50 * time.Millisecond)
	}
}

// replaceWiped stops node, deletes it and its volume, replaces its etcd
// member and starts a fresh node in its place — the procedure in
// docs/operations.md.
func (c *chaosCluster) replaceWiped(t *testing.T, node string, st *wire.ClusterState) {
	t.Helper()
	var memberID string
	if n := st.Node(node); n != nil {
		memberID = n.EtcdMemberID
	}
	if memberID == "" {
		t.Fatalf("no etcd member id for %s in %+v", node, st.Nodes)
	}
	c.docker(t, "stop", "-t", "15", node)
	c.docker(t, "rm", node)
	c.docker(t, "volume", "rm", composeProject+"_node"+strings.TrimPrefix(node, "stego-node")+"-data")
	peer := st.LeaderID
	c.docker(t, "exec", peer, "etcdctl", "member", "remove", memberID)
	// etcd refuses to reconfigure until the remaining members have been
	// connected for a few seconds ("unhealthy cluster").
	testenv.WaitFor(t, 20*time.Second, "etcdctl member add", func() bool {
		out, err := exec.Command("docker", "exec", peer, "etcdctl", "member", "add", node, "--peer-urls=https://"+node+":2380").CombinedOutput()
		if err != nil {
			t.Logf("member add: %v: %s", err, bytes.TrimSpace(out))
		}
		return err == nil
	})
	c.markStarted(node)
	c.composeEnv(t, []string{"INITIAL_CLUSTER_STATE=existing"}, "up", "-d", "--no-deps", node)
	after := c.waitAgreed(t, 90*time.Second)
	for _, n := range after.Nodes {
		if n.ID == node && n.EtcdMemberID == memberID {
			t.Fatalf("%s came back as the old etcd member %s", node, memberID)
		}
	}
}

func sameMembers(a, b *wire.ClusterState) bool {
	ids := func(s *wire.ClusterState) map[string]string {
		m := map[string]string{}
		for _, n := range s.Nodes {
			m[n.ID] = n.EtcdMemberID
		}
		return m
	}
	x, y := ids(a), ids(b)
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if y[k] != v {
			return false
		}
	}
	return true
}

// revision is etcd's current revision.
func (c *chaosCluster) revision(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.etcd.Get(ctx, coordinator.StateKey)
	if err != nil {
		t.Fatalf("etcd: %v", err)
	}
	return resp.Header.Revision
}

// checkEpochHistory reads every version of the published state written
// since rev from etcd's history: the epoch never goes backwards (a
// deposed leader's write never lands after its successor's), and no
// epoch is written by two leaders. It returns the history.
func (c *chaosCluster) checkEpochHistory(t *testing.T, rev int64) []wire.ClusterState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, err := c.etcd.Get(ctx, coordinator.StateKey)
	if err != nil || len(head.Kvs) == 0 {
		t.Fatalf("reading the state: %v", err)
	}
	last := head.Kvs[0].ModRevision
	var history []wire.ClusterState
	leaderOf := map[int64]string{}
	watch := c.etcd.Watch(ctx, coordinator.StateKey, clientv3.WithRev(rev))
	for seen := int64(0); seen < last; {
		resp, ok := <-watch
		if !ok || resp.Err() != nil {
			t.Fatalf("reading the state's history from revision %d to %d: %v (ctx %v)", rev, last, resp.Err(), ctx.Err())
		}
		for _, ev := range resp.Events {
			var s wire.ClusterState
			if err := json.Unmarshal(ev.Kv.Value, &s); err != nil {
				t.Fatalf("state at revision %d: %v", ev.Kv.ModRevision, err)
			}
			if prev, ok := leaderOf[s.Epoch]; ok && prev != s.LeaderID {
				t.Errorf("epoch %d written by both %s and %s", s.Epoch, prev, s.LeaderID)
			}
			if n := len(history); n > 0 && s.Epoch < history[n-1].Epoch {
				t.Errorf("state written under epoch %d (%s) at revision %d, after epoch %d (%s)",
					s.Epoch, s.LeaderID, ev.Kv.ModRevision, history[n-1].Epoch, history[n-1].LeaderID)
			}
			history = append(history, s)
			leaderOf[s.Epoch] = s.LeaderID
			seen = ev.Kv.ModRevision
		}
	}
	t.Logf("state history: %d writes under %d epochs, never backwards", len(history), len(leaderOf))
	return history
}

// checkOneLeader: exactly one node believes it leads (its own /healthz),
// and it is the leader every node serves — read between two agreed
// states, so that a change of leader in between is not mistaken for two
// leaders.
func (c *chaosCluster) checkOneLeader(t *testing.T) {
	t.Helper()
	var leaders []string
	var last error
	for range 20 {
		before, err := c.agreed()
		leaders = nil
		for _, n := range chaosNodes {
			var h struct {
				Leader bool `json:"leader"`
			}
			if err := getJSON(c.urls[n]+"/healthz", &h); err != nil {
				t.Fatalf("%s /healthz: %v", n, err)
			}
			if h.Leader {
				leaders = append(leaders, n)
			}
		}
		after, err2 := c.agreed()
		if err == nil && err2 == nil && before.Epoch == after.Epoch {
			if len(leaders) != 1 || leaders[0] != after.LeaderID {
				t.Errorf("nodes believing they lead: %v; every node serves leader %s", leaders, after.LeaderID)
			}
			return
		}
		last = errors.Join(err, err2)
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("no stable leader to check (last: %v; believing they lead: %v)", last, leaders)
}

// checkNothingLeftBehind: the stack runs exactly its four containers,
// each node container runs only stegod, and no node's goroutines pile up.
func (c *chaosCluster) checkNothingLeftBehind(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=com.docker.compose.project="+composeProject, "--format", "{{.Names}} {{.State}}").Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	// The stack's four long-running containers, and the one-shot that
	// made the certificates, finished (compose names it itself).
	var running, others []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, state, _ := strings.Cut(line, " ")
		switch {
		case state == "running":
			running = append(running, name)
		case strings.Contains(name, "stego-certs") && state == "exited":
		default:
			others = append(others, line)
		}
	}
	if len(running) != 4 || len(others) > 0 {
		t.Errorf("containers: want the four of the stack running (and stego-certs exited), got:\n%s", out)
	}
	for _, n := range chaosNodes {
		top, err := exec.Command("docker", "top", n, "-o", "pid,comm").Output()
		if err != nil {
			t.Fatalf("docker top %s: %v", n, err)
		}
		// Besides stegod, only Docker's health check (stegoctl health, or
		// runc starting it) may be running.
		var others []string
		stegods := 0
		for _, line := range strings.Split(strings.TrimSpace(string(top)), "\n")[1:] {
			switch f := strings.Fields(line); {
			case len(f) < 2:
			case f[1] == "stegod":
				stegods++
			case f[1] != "stegoctl" && !strings.HasPrefix(f[1], "runc"):
				others = append(others, line)
			}
		}
		if stegods != 1 || len(others) > 0 {
			t.Errorf("%s runs %d stegod and %v, want one stegod alone:\n%s", n, stegods, others, top)
		}
		switch g := goroutines(c.urls[n]); {
		case g < 0:
			t.Errorf("%s: go_goroutines not read from /metrics", n)
		case g > 2000:
			t.Errorf("%s runs %d goroutines", n, g)
		}
	}
}

// goroutines reads go_goroutines from a node's /metrics (-1 if unread).
func goroutines(base string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "go_goroutines %d", &n); err == nil {
			return n
		}
	}
	return -1
}

func (c *chaosCluster) docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *chaosCluster) composeCmd(t *testing.T, args ...string) {
	t.Helper()
	c.composeEnv(t, nil, args...)
}

func (c *chaosCluster) composeEnv(t *testing.T, env []string, args ...string) {
	t.Helper()
	if out, err := c.runEnv(env, args...); err != nil {
		t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// loadRun is `stegoctl load` running in the background.
type loadRun struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

func (c *chaosCluster) startLoad(t *testing.T) *loadRun { return startLoad(t, c.loadBin, c.base) }

// startLoad runs `stegoctl load` (bin) against target until stop: four
// clients, mixed hides and reveals of 2 KB, every round trip verified.
func startLoad(t *testing.T, bin, target string) *loadRun {
	t.Helper()
	l := &loadRun{done: make(chan error, 1)}
	l.cmd = exec.Command(bin, "load", "--targets", target, "--clients", "4", "--duration", "10m",
		"--op", "mixed", "--size", "2048", "--timeout", "60s", "--json", "--quiet")
	l.cmd.Stdout, l.cmd.Stderr = &l.stdout, &l.stderr
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("start stegoctl load: %v", err)
	}
	go func() { l.done <- l.cmd.Wait() }()
	t.Cleanup(func() { l.cmd.Process.Kill() }) // if the test stops early
	return l
}

// stop interrupts the load (which then prints its summary) and returns
// the summary.
func (l *loadRun) stop(t *testing.T) wire.LoadReport {
	t.Helper()
	l.cmd.Process.Signal(os.Interrupt)
	var err error
	select {
	case err = <-l.done:
	case <-time.After(90 * time.Second):
		l.cmd.Process.Kill()
		t.Fatalf("stegoctl load did not stop within 90 s of SIGINT")
	}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("stegoctl load: %v\n%s", err, l.stderr.String())
	}
	var res wire.LoadReport
	if err := json.Unmarshal(l.stdout.Bytes(), &res); err != nil {
		t.Fatalf("stegoctl load --json: %v: %q\n%s", err, l.stdout.String(), l.stderr.String())
	}
	return res
}

// cutInFlight counts the failed requests of res that are answers cut in
// flight: transport failures whose answer began and then ended early. It
// can tell only while every failure's error is among those res keeps.
func cutInFlight(res wire.LoadReport) int {
	if res.Failures["transport"] != res.Failed || len(res.Errors) != res.Failed {
		return 0
	}
	for _, e := range res.Errors {
		if !strings.Contains(e, "reading answer: unexpected EOF") {
			return 0
		}
	}
	return res.Failed
}
