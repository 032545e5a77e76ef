package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// startWorker starts a worker of c's members.
func startWorker(t *testing.T, c *testCluster, name string) *Node {
	t.Helper()
	var endpoints []string
	for _, cfg := range c.configs {
		endpoints = append(endpoints, cfg.Member.ClientURL)
	}
	w, err := Start(context.Background(), Config{
		Role: RoleWorker, Endpoints: endpoints, Member: MemberConfig{Name: name},
		RegistryEvery: 200 * time.Millisecond, WorkerRegistryEvery: 200 * time.Millisecond, WorkerRegistryTTL: 1,
		Version: "test", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.Close(ctx); err != nil {
			t.Errorf("close worker %s: %v", name, err)
		}
	})
	return w
}

// TestWorkerJoinsNeverLeadsAndSurvivesAMember: a worker registers and
// shows in the published state as a Worker, follows the state like a
// member, never campaigns, keeps following when a member (the leader's
// or not) dies, and calls itself degraded once no member answers.
func TestWorkerJoinsNeverLeadsAndSurvivesAMember(t *testing.T) {
	c := newTestCluster(t, 3)
	leader := c.waitLeader(20 * time.Second)
	w := startWorker(t, c, "worker1")

	var st *wire.ClusterState
	testenv.WaitFor(t, 10*time.Second, "the worker in the published state, as a Worker", func() bool {
		if st = w.State(); st == nil {
			return false
		}
		n := st.Node("worker1")
		return n != nil && n.Role == wire.RoleWorker && n.Healthy && n.Worker
	})
	if n := st.Node("worker1"); n.EtcdMemberID != "" || n.RaftPort != 0 || st.LeaderID == "worker1" {
		t.Errorf("the worker looks like a member: %+v (leader %s)", n, st.LeaderID)
	}
	if w.Leadership().IsLeader || w.LeadershipChanges() != 0 {
		t.Errorf("a worker led: %+v, %d changes", w.Leadership(), w.LeadershipChanges())
	}
	// The leader publishes members only (its writes do not grow with the
	// workers); every node adds the workers it follows when it serves.
	published, err := c.nodes[leader].client.Get(context.Background(), StateKey)
	if err != nil || len(published.Kvs) != 1 {
		t.Fatalf("read the published state: %v", err)
	}
	if strings.Contains(string(published.Kvs[0].Value), "worker1") {
		t.Errorf("the published state names a worker: %s", published.Kvs[0].Value)
	}
	testenv.WaitFor(t, 10*time.Second, "every member to serve the worker", func() bool {
		for _, m := range c.nodes {
			if s := m.State(); s == nil || s.Node("worker1") == nil {
				return false
			}
		}
		return true
	})
	// Workers read each other's entries on demand, not by watching them.
	w2 := startWorker(t, c, "worker2")
	testenv.WaitFor(t, 10*time.Second, "each worker to serve the other", func() bool {
		a, b := w.State(), w2.State()
		return a != nil && b != nil && a.Node("worker2") != nil && b.Node("worker1") != nil
	})
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	if err := w2.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "a worker that left to leave the others' status", func() bool {
		return w.State().Node("worker2") == nil && c.nodes[leader].State().Node("worker2") == nil
	})

	if err := w.Ready(context.Background()); err != nil || w.Degraded() != "" {
		t.Fatalf("a connected worker: Ready %v, Degraded %q", err, w.Degraded())
	}
	members, err := c.nodes[leader].client.MemberList(context.Background())
	if err != nil || len(members.Members) != 3 {
		t.Fatalf("member list: %v, %d members; a worker must not be one", err, len(members.Members))
	}

	// The leader's member dies: the worker's client fails over to
	// another member if it used that one, and it sees the new leader.
	c.crash(leader)
	since := time.Now()
	testenv.WaitFor(t, 15*time.Second, "the worker to see the new leader's state", func() bool {
		s := w.State()
		return s != nil && s.UpdatedAt.After(since) && s.LeaderID != c.configs[leader].Member.Name
	})
	if w.Degraded() != "" {
		t.Errorf("with two members left the worker is degraded: %s", w.Degraded())
	}

	// No member at all: the worker keeps its last state and says it is
	// degraded; Ready says so with ErrDegraded.
	last := w.State()
	c.closeAll()
	testenv.WaitFor(t, 10*time.Second, "the worker to call itself degraded", func() bool { return w.Degraded() != "" })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := w.Ready(ctx); !errors.Is(err, ErrDegraded) {
		t.Errorf("Ready with no member: %v, want ErrDegraded", err)
	}
	if w.State() == nil || w.State().Revision < last.Revision {
		t.Errorf("the degraded worker lost its last state")
	}
}

// TestRegistryEntriesWithoutAValidIDAreSkipped: entries whose ID could
// not name a node (".." would turn the web app's /admin/nodes/<id>/fail
// into /admin/fail) are left out of what every node serves.
func TestRegistryEntriesWithoutAValidIDAreSkipped(t *testing.T) {
	c := newTestCluster(t, 1)
	l := c.waitLeader(20 * time.Second)
	c.waitState(l, 1, 10*time.Second)
	cli := c.nodes[l].client
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, kv := range []struct{ key, value string }{
		{WorkersPrefix + "..", `{"id":"..","ip":"127.0.0.1","http_port":1}`},
		{WorkersPrefix + "ok-worker", `{"id":"ok-worker","ip":"127.0.0.1","http_port":1}`},
		{NodesPrefix + "evil", `{"id":"../x","ip":"127.0.0.1","http_port":1}`},
	} {
		if _, err := cli.Put(ctx, kv.key, kv.value); err != nil {
			t.Fatal(err)
		}
	}
	nodes, err := readNodes(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if !ValidNodeID(n.ID) {
			t.Errorf("readNodes returned the entry of %q", n.ID)
		}
	}
	resp, err := cli.Get(ctx, WorkersPrefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	valid := 0
	for _, kv := range resp.Kvs {
		if n, ok := decodeWorker(kv); ok {
			valid++
			if n.ID != "ok-worker" {
				t.Errorf("decodeWorker took %q", n.ID)
			}
		}
	}
	if valid != 1 {
		t.Errorf("%d worker entries taken, want 1 (ok-worker)", valid)
	}
}

func TestValidNodeID(t *testing.T) {
	for id, want := range map[string]bool{
		"n1": true, "stego-node1": true, "c0ffee": true, "worker_3.local": true,
		"": false, ".": false, "..": false, "a/b": false, "node 1": false, "n%2e": false, strings.Repeat("a", 254): false,
	} {
		if got := ValidNodeID(id); got != want {
			t.Errorf("ValidNodeID(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestWorkerReconnectsSoonAfterAnOutage: when every member has been down
// for a while and comes back, the worker is coordinated again within a
// few seconds. gRPC's default reconnect backoff grows by 1.6× from 1 s
// to 120 s, so after a 30 s outage a worker's next attempt could be 15 s
// or more away, and it stayed degraded (and out of the status) all that
// time.
func TestWorkerReconnectsSoonAfterAnOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s outage")
	}
	c := newTestCluster(t, 3)
	c.waitLeader(20 * time.Second)
	w := startWorker(t, c, "worker1")
	testenv.WaitFor(t, 10*time.Second, "the worker in the status", func() bool {
		s := w.State()
		return s != nil && s.Node("worker1") != nil && w.Degraded() == ""
	})

	c.closeAll()
	testenv.WaitFor(t, 10*time.Second, "the worker to call itself degraded", func() bool { return w.Degraded() != "" })
	time.Sleep(30 * time.Second) // long enough for the default backoff to reach 10–20 s
	c.startAll()
	back := time.Now()
	leader := c.waitLeader(20 * time.Second)
	testenv.WaitFor(t, 20*time.Second, "the worker to be coordinated again", func() bool {
		s := c.nodes[leader].State()
		return w.Degraded() == "" && s != nil && s.Node("worker1") != nil && s.UpdatedAt.After(back)
	})
	took := time.Since(back)
	if took > 5*time.Second {
		t.Errorf("the worker took %s to reconnect after the members came back, want ≤ 5 s", took.Round(100*time.Millisecond))
	}
	t.Logf("coordinated again %s after the members were back", took.Round(100*time.Millisecond))
}
