package coordinator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// deadSet is a ProbeFunc for tests: the nodes in it do not answer, and
// those marked down are proven gone (ErrNodeDown).
type deadSet struct {
	mu   sync.Mutex
	dead map[string]error
}

// set makes a node answer (nil) or fail probes with err.
func (d *deadSet) set(id string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead[id] = err
}

func (d *deadSet) probe(_ context.Context, n wire.NodeInfo) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.dead[n.ID]; err != nil {
		return 0, err
	}
	return 200, nil
}

var errNoAnswer = errors.New("no answer")

func fastCluster(t *testing.T) (*testCluster, *deadSet) {
	t.Helper()
	ds := &deadSet{dead: map[string]error{}}
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.Probe = ds.probe })
	return c, ds
}

// A crashed leader is replaced long before its lease could expire: the
// followers' probes depose it. The lease is 30 s here, so a new leader
// within the 5 s below is the probes' doing; with the default 1 s lease,
// expiry alone would come within a few hundred milliseconds of the
// probes, and a wall-clock bound could not tell them apart.
func TestFastFailoverBeatsLeaseExpiry(t *testing.T) {
	ds := &deadSet{dead: map[string]error{}}
	c := newTestClusterWith(t, 3, func(cfg *Config) { cfg.Probe = ds.probe; cfg.LeaseTTL = 30 })
	old := c.waitLeader(10 * time.Second)
	before := c.waitState(old, 3, 10*time.Second)
	start := time.Now()
	ds.set(c.configs[old].Member.Name, ErrNodeDown)
	c.crash(old)
	var l int
	testenv.WaitFor(t, 5*time.Second, "a new leader", func() bool { l = c.leader(); return l >= 0 && l != old })
	after := c.waitState(l, -1, 10*time.Second)
	took := time.Since(start)
	c.waitState(l, 2, 10*time.Second) // and the dead node is marked down
	t.Logf("new leader publishing %s after the crash", took)
	if after.Epoch <= before.Epoch {
		t.Fatalf("epoch %d → %d", before.Epoch, after.Epoch)
	}
}

// A leader the others cannot reach is deposed even though it is alive:
// it must step down at once and its writes must be fenced off.
func TestSuspectedLeaderStepsDownAndIsFenced(t *testing.T) {
	c, ds := fastCluster(t)
	old := c.waitLeader(10 * time.Second)
	c.waitState(old, 3, 10*time.Second)
	stale := c.nodes[old].elector.Leadership()
	ds.set(c.configs[old].Member.Name, errNoAnswer)
	var l int
	testenv.WaitFor(t, 5*time.Second, "another node to lead", func() bool { l = c.leader(); return l >= 0 && l != old })
	if c.nodes[old].elector.Leadership().IsLeader {
		t.Fatal("the deposed leader still believes it leads")
	}
	mustBeFenced(t, c.nodes[old], stale)
	ds.set(c.configs[old].Member.Name, nil)
	c.waitState(l, 3, 10*time.Second)
}

// Deposing revokes exactly the term that was probed: the first call ends
// it, and the same call repeated once a successor leads (a second
// follower acting on the same probe) changes nothing and is no error.
func TestDeposeEndsOnlyTheProbedTerm(t *testing.T) {
	c := newTestCluster(t, 3)
	old := c.waitLeader(10 * time.Second)
	c.waitState(old, 3, 10*time.Second)
	follower := (old + 1) % 3
	d := &failureDetector{client: c.nodes[follower].member.Client(), suspectSlow: time.Second}
	ctx := context.Background()
	target, err := d.currentLeader(ctx)
	if err != nil || target == nil || target.info.ID != c.configs[old].Member.Name {
		t.Fatalf("current leader: %+v, %v; want %s", target, err, c.configs[old].Member.Name)
	}

	if deposed, err := d.depose(ctx, target); err != nil || !deposed {
		t.Fatalf("depose: deposed = %v, err = %v; want true, nil", deposed, err)
	}
	var next *leaderTarget
	testenv.WaitFor(t, 10*time.Second, "a successor's term", func() bool {
		next, err = d.currentLeader(ctx)
		return err == nil && next != nil && next.rev != target.rev
	})
	if deposed, err := d.depose(ctx, target); err != nil || deposed {
		t.Fatalf("repeated depose: deposed = %v, err = %v; want false, nil", deposed, err)
	}
	resp, err := d.client.Get(ctx, next.key)
	if err != nil || len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != next.rev {
		t.Fatalf("successor's election key after the repeated depose: %v, %v", resp, err)
	}
}
