package worker

import "sync/atomic"

// Faults is a node's fault injection, for people who break nodes on
// purpose to watch the cluster cope. The zero value is a healthy node
// whose Crash does nothing; set Exit to make Crash real.
type Faults struct {
	paused atomic.Bool
	// Exit is called by Crash; stegod sets it to exit the process at
	// once, without any cleanup, as a real crash would.
	Exit func()
	// OnChange, if set, is called after Pause and Resume with the new
	// state (stegod uses it to resign and stop campaigning).
	OnChange func(paused bool)
}

// Pause makes the pool refuse jobs (ErrPaused) until Resume.
func (f *Faults) Pause() { f.set(true) }

// Resume undoes Pause.
func (f *Faults) Resume() { f.set(false) }

func (f *Faults) set(p bool) {
	if f.paused.Swap(p) != p && f.OnChange != nil {
		f.OnChange(p)
	}
}

// Paused reports whether the node is paused.
func (f *Faults) Paused() bool { return f.paused.Load() }

// Crash ends the process through Exit, if set.
func (f *Faults) Crash() {
	if f.Exit != nil {
		f.Exit()
	}
}
