package coordinator

import (
	"syscall"
	"testing"
	"time"
)

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMemberWithoutQuorumDoesNotSpin: a member cut off from the quorum
// (here: the other two died) has no raft
// leader, so its publisher's WithRequireLeader watch ends at once; it
// reopened it at once, a busy loop (3.4 s of CPU in 3 s) for as long as
// the quorum was lost. It now waits rewatchPause, as the other watchers
// do.
func TestMemberWithoutQuorumDoesNotSpin(t *testing.T) {
	c := newTestCluster(t, 3)
	l := c.waitLeader(20 * time.Second)
	c.waitState(l, 3, 10*time.Second)
	time.Sleep(time.Second)
	before := cpuTime(t)
	time.Sleep(3 * time.Second)
	healthy := cpuTime(t) - before
	survivor := (l + 1) % 3
	for i := range c.nodes {
		if i != survivor {
			c.crash(i)
		}
	}
	time.Sleep(3 * time.Second) // let the reaped nodes' loops end
	before = cpuTime(t)
	time.Sleep(3 * time.Second)
	lost := cpuTime(t) - before
	t.Logf("CPU over 3 s: 3 healthy members %s; 1 member without quorum %s", healthy, lost)
	if lost > 2*healthy && lost > time.Second {
		t.Errorf("a lone member without a raft leader burns %s CPU in 3 s", lost)
	}
}
