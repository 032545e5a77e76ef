package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/internal/poll"
	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

type testCluster struct {
	t       *testing.T
	configs []Config
	nodes   []*Node
}

func newTestCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, size, nil)
}

// newTestClusterWith lets a test adjust every node's Config.
func newTestClusterWith(t *testing.T, size int, adjust func(*Config)) *testCluster {
	t.Helper()
	ports := testenv.FreePorts(t, 2*size)
	var initial []string
	c := &testCluster{t: t}
	for i := range size {
		name := fmt.Sprintf("node%d", i+1)
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		initial = append(initial, name+"="+peer)
		c.configs = append(c.configs, Config{Member: MemberConfig{
			Name:         name,
			DataDir:      t.TempDir(),
			PeerURL:      peer,
			ClientURL:    fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			ClusterToken: "test-" + t.Name(),
			ReadyTimeout: 20 * time.Second,
		}, PublishEvery: 200 * time.Millisecond, RegistryEvery: 200 * time.Millisecond,
			Version: "test", Logger: slog.New(slog.DiscardHandler)})
	}
	for i := range c.configs {
		c.configs[i].Member.InitialCluster = strings.Join(initial, ",")
		if adjust != nil {
			adjust(&c.configs[i])
		}
	}
	c.nodes = make([]*Node, size)
	c.startAll()
	t.Cleanup(c.closeAll)
	return c
}

// startAll starts every stopped node concurrently: members wait for a
// quorum, so they cannot start one by one.
func (c *testCluster) startAll() {
	c.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		if c.nodes[i] != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodes[i], errs[i] = c.start(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testCluster) start(i int) (*Node, error) {
	return Start(context.Background(), c.configs[i])
}

func (c *testCluster) closeNode(i int) {
	n := c.nodes[i]
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var ours []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "stegocluster/coordinator.") {
				ours = append(ours, g)
			}
		}
		c.t.Errorf("close %s: %v; our goroutines:\n%s", c.configs[i].Member.Name, err, strings.Join(ours, "\n\n"))
	}
	c.nodes[i] = nil
}

// closeAll stops every node at once, as a whole cluster shuts down:
// closing them one by one would leave the last ones without a quorum.
func (c *testCluster) closeAll() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.closeNode(i)
		}()
	}
	wg.Wait()
}

// crash stops node i's etcd member at once, without resigning or
// revoking anything, as a killed process would; then reaps its loops.
func (c *testCluster) crash(i int) {
	n := c.nodes[i]
	n.member.etcd.Server.HardStop()
	c.nodes[i] = nil
	// Reap its loops in the background: they may take a while to give up
	// on the dead member, and the survivors must not wait for that.
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	}()
	c.t.Cleanup(func() { <-done })
}

// leader returns the index of the single node that believes it leads,
// or -1 if none or several do.
func (c *testCluster) leader() int {
	found := -1
	for i, n := range c.nodes {
		if n != nil && n.elector.Leadership().IsLeader {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

func (c *testCluster) waitLeader(timeout time.Duration) int {
	c.t.Helper()
	var l int
	testenv.WaitFor(c.t, timeout, "exactly one leader", func() bool { l = c.leader(); return l >= 0 })
	return l
}

// waitState waits until every live node's watcher shows a state led by
// the current leader with the given number of healthy nodes (-1: any).
func (c *testCluster) waitState(leader, healthy int, timeout time.Duration) *wire.ClusterState {
	c.t.Helper()
	var s *wire.ClusterState
	id := c.configs[leader].Member.Name
	seen := make([]*wire.ClusterState, len(c.nodes)) // for the failure message
	err := poll.Until(context.Background(), timeout, fmt.Sprintf("all nodes to show %s leading %d healthy", id, healthy), func() bool {
		var first *wire.ClusterState
		ok := true
		for i, n := range c.nodes {
			if n == nil {
				continue
			}
			cur := n.State()
			seen[i] = cur
			if cur == nil || cur.LeaderID != id || (healthy >= 0 && countHealthy(cur) != healthy) || (first != nil && !sameView(first, cur)) {
				ok = false
				continue
			}
			first = cur
		}
		s = first
		return ok
	})
	if err != nil {
		for i, st := range seen {
			if c.nodes[i] != nil {
				c.t.Logf("%s shows %s", c.configs[i].Member.Name, describeState(st))
			}
		}
		c.t.Fatal(err)
	}
	return s
}

// describeState is a state in one line: leader, epoch, revision and each
// node's role and health.
func describeState(s *wire.ClusterState) string {
	if s == nil {
		return "no state"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "leader %s epoch %d revision %d updated %s:", s.LeaderID, s.Epoch, s.Revision, s.UpdatedAt.Format(time.StampMilli))
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, " %s=%s/healthy=%v", n.ID, n.Role, n.Healthy)
	}
	return b.String()
}

// sameView reports whether two states say the same of the cluster: the
// same leader and epoch, and the same nodes in the same roles and
// health. Not the same revision: the leader republishes every
// PublishEvery (200 ms here) and the followers see each write a watch
// delivery later, so on a loaded machine two nodes may hold different
// revisions of one view at every instant for seconds.
func sameView(a, b *wire.ClusterState) bool {
	if a.LeaderID != b.LeaderID || a.Epoch != b.Epoch || len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i, n := range a.Nodes {
		m := b.Nodes[i]
		if n.ID != m.ID || n.Role != m.Role || n.Healthy != m.Healthy {
			return false
		}
	}
	return true
}

func countHealthy(s *wire.ClusterState) int {
	n := 0
	for _, node := range s.Nodes {
		if node.Healthy {
			n++
		}
	}
	return n
}

func TestOneLeaderAndSameStatusEverywhere(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.waitLeader(10 * time.Second)
	s := c.waitState(l, 3, 10*time.Second)
	if len(s.Nodes) != 3 || s.Epoch <= 0 || s.Term == 0 {
		t.Fatalf("state %+v: want 3 nodes, positive epoch and raft term", s)
	}
	roles := map[string]int{}
	for _, n := range s.Nodes {
		roles[n.Role]++
	}
	if roles[wire.RoleLeader] != 1 || roles[wire.RoleFollower] != 2 {
		t.Fatalf("roles %v, want one Leader and two Followers", roles)
	}
	// The election key is where operators look: etcdctl get --prefix
	// /stegocluster/election/ shows the leader's id as the oldest value.
	resp, err := c.nodes[0].member.Client().Get(context.Background(), ElectionPrefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil || len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != s.LeaderID || resp.Kvs[0].CreateRevision != s.Epoch {
		t.Fatalf("election key: %v %v, want value %s at create revision %d", resp, err, s.LeaderID, s.Epoch)
	}
}

func TestCrashedLeaderIsReplaced(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader(10 * time.Second)
	before := c.waitState(old, 3, 10*time.Second)
	c.crash(old)
	l := c.waitLeader(10 * time.Second)
	if l == old {
		t.Fatal("crashed node still leads")
	}
	after := c.waitState(l, 2, 10*time.Second)
	if after.Epoch <= before.Epoch {
		t.Fatalf("epoch went from %d to %d; it must grow", before.Epoch, after.Epoch)
	}
}

func TestDeposedLeaderCannotWrite(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader(10 * time.Second)
	c.waitState(old, 3, 10*time.Second)
	stale := c.nodes[old].elector.Leadership()

	// Depose the leader behind its back: revoke its election lease from
	// another node, as a failure detector would.
	other := c.nodes[(old+1)%3].member.Client()
	ctx := context.Background()
	resp, err := other.Get(ctx, stale.Key)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("leader key: %v", err)
	}
	if _, err := other.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	// Whatever the old leader believes, its write is refused.
	if err := c.nodes[old].elector.FencedTxn(ctx, c.nodes[old].elector.Leadership(), nil, clientv3.OpPut(StateKey, "stale")); !errors.Is(err, ErrFenced) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader's write: err = %v, want ErrFenced or ErrNotLeader", err)
	}
	// The deposed node may not have noticed yet and still call itself the
	// leader; the next leader is another node, whose key is older than the
	// one the deposed node campaigns with now.
	var l int
	testenv.WaitFor(t, 10*time.Second, "another node to lead", func() bool { l = c.leader(); return l >= 0 && l != old })
	c.waitState(l, 3, 10*time.Second)
	// A write fenced with the old term fails even after a new term began.
	mustBeFenced(t, c.nodes[old], stale)
	// A node refuses a write built in a term other than its current one
	// (the publisher's, had it lost and won again while building a
	// state), whatever etcd would say.
	earlier := c.nodes[l].elector.Leadership()
	earlier.Epoch--
	if err := c.nodes[l].elector.FencedTxn(ctx, earlier, nil, clientv3.OpPut(StateKey, "stale")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a write in a term not the node's own: err = %v, want ErrNotLeader", err)
	}
	if s, _, err := readState(ctx, other); err != nil || s.LeaderID != c.configs[l].Member.Name {
		t.Fatalf("state after fenced writes: %+v, %v", s, err)
	}
}

// mustBeFenced checks that a write under an old term is refused. Errors
// other than ErrFenced (a busy test machine can make etcd time a request
// out) are retried; success fails the test at once.
func mustBeFenced(t *testing.T, n *Node, stale Leadership) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := fencedTxn(ctx, n.member.Client(), stale, nil, clientv3.OpPut(StateKey, "stale"))
		cancel()
		switch {
		case err == nil:
			t.Fatal("a write under the old term succeeded")
		case errors.Is(err, ErrFenced):
			return
		case time.Now().After(deadline):
			t.Fatalf("write under the old term: %v, never ErrFenced", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A paused node gives up leadership, stops campaigning and is reported
// unhealthy in the published state, until it is resumed; a node that
// resigned for shutdown stays out of the election even if resumed.
func TestPauseGivesUpLeadership(t *testing.T) {
	c := newTestCluster(t, 3)
	paused := c.waitLeader(10 * time.Second)
	id := c.configs[paused].Member.Name
	c.nodes[paused].Pause()
	var l int
	testenv.WaitFor(t, 10*time.Second, "another node to lead", func() bool { l = c.leader(); return l >= 0 && l != paused })
	testenv.WaitFor(t, 5*time.Second, "the state to call the paused node unhealthy", func() bool {
		st := c.nodes[l].State()
		if st == nil {
			return false
		}
		n := st.Node(id)
		return st.LeaderID != id && n != nil && n.Paused && !n.Healthy
	})
	// While paused it must not campaign: no key of its own in the election.
	time.Sleep(500 * time.Millisecond)
	if c.campaigning(l, id) {
		t.Fatalf("paused node %s is campaigning", id)
	}
	c.nodes[paused].Resume()
	testenv.WaitFor(t, 5*time.Second, "the resumed node to campaign again", func() bool { return c.campaigning(l, id) })
	testenv.WaitFor(t, 5*time.Second, "the resumed node healthy again", func() bool {
		st := c.nodes[l].State()
		if st == nil {
			return false
		}
		n := st.Node(id)
		return n != nil && n.Healthy
	})

	c.nodes[paused].Resign()
	testenv.WaitFor(t, 5*time.Second, "the resigned node to leave the election", func() bool { return !c.campaigning(l, id) })
	c.nodes[paused].Pause()
	c.nodes[paused].Resume()
	time.Sleep(500 * time.Millisecond)
	if c.campaigning(l, id) {
		t.Fatalf("node %s campaigns again after Resign, Pause and Resume", id)
	}
}

// campaigning reports whether node id has a key in the election, as read
// through node i.
func (c *testCluster) campaigning(i int, id string) bool {
	c.t.Helper()
	resp, err := c.nodes[i].member.Client().Get(context.Background(), ElectionPrefix, clientv3.WithPrefix())
	if err != nil {
		c.t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if string(kv.Value) == id {
			return true
		}
	}
	return false
}

func TestRestartWithSameDataKeepsEpochGrowing(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.waitLeader(10 * time.Second)
	before := c.waitState(l, 3, 10*time.Second)
	c.closeAll()
	c.startAll()
	l = c.waitLeader(15 * time.Second)
	epoch := c.nodes[l].elector.Leadership().Epoch
	if epoch <= before.Epoch {
		t.Fatalf("epoch after restart %d, before %d: must grow", epoch, before.Epoch)
	}
	// The state read back from disk is the old term's until the new leader
	// publishes; every node must come to show the new epoch.
	testenv.WaitFor(t, 15*time.Second, "every node to show the new epoch", func() bool {
		for _, n := range c.nodes {
			if s := n.State(); s == nil || s.Epoch != epoch || countHealthy(s) != 3 {
				return false
			}
		}
		return true
	})
}

func TestNoGoroutinesLeftAfterClose(t *testing.T) {
	baseline := runtime.NumGoroutine()
	func() {
		c := newTestCluster(t, 3)
		l := c.waitLeader(10 * time.Second)
		c.waitState(l, 3, 10*time.Second)
		c.closeAll()
	}()
	var now int
	testenv.WaitFor(t, 10*time.Second, "goroutines to end", func() bool {
		now = runtime.NumGoroutine()
		return now <= baseline+2
	})
	if t.Failed() {
		buf := make([]byte, 1<<20)
		t.Logf("%d goroutines (baseline %d):\n%s", now, baseline, buf[:runtime.Stack(buf, true)])
	}
}
