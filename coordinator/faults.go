package coordinator

import "time"

// Fault injection, for people who break nodes on purpose to watch the
// cluster cope, and for the chaos suite. A paused node behaves like a
// frozen one as far as the cluster can tell: it gives up leadership,
// stops campaigning, reports itself paused in its registry entry (the
// leader then calls it unhealthy) and its API refuses stego calls and
// health checks with 503 — but it keeps its etcd member, so a quorum
// survives, and Resume brings it back at once.

// Pause makes the node act frozen until Resume (see above). It returns
// at once; the resignation happens on the election's goroutine.
func (n *Node) Pause() {
	if !n.paused.Swap(true) {
		n.log.Warn("fault injection: paused")
		if n.elector != nil {
			n.elector.Pause()
		}
	}
}

// Resume undoes Pause. A node that has resigned for good (Resign) stays
// out of the election.
func (n *Node) Resume() {
	if n.paused.Swap(false) {
		n.log.Warn("fault injection: resumed")
		if !n.resigned.Load() && n.elector != nil {
			n.elector.Resume()
		}
	}
}

// Paused reports whether the node is paused.
func (n *Node) Paused() bool { return n.paused.Load() }

// Crash ends the process at once, as a real crash would: no
// resignation, no registry clean-up, no drain. The others see the node
// vanish (Config.Exit replaces the exit in tests).
func (n *Node) Crash() {
	n.log.Warn("fault injection: crashing now")
	n.exit(3)
}

// crashExitDelay is how long CrashSoon waits, so that the answer to the
// request that asked for the crash can leave first.
const crashExitDelay = 50 * time.Millisecond

// CrashSoon crashes the node after a moment (see crashExitDelay).
func (n *Node) CrashSoon() { time.AfterFunc(crashExitDelay, n.Crash) }

// Resign gives up leadership and stops campaigning for the rest of the
// node's life, without pausing it: a node shutting down calls it first
// so that a successor takes over while this one drains its requests.
func (n *Node) Resign() {
	n.resigned.Store(true)
	if n.elector != nil {
		n.elector.Pause()
	}
}
