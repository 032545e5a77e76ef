package coordinator

import "sync"

// latest holds the newest value of something that changes (the cluster
// state, a round of probes) and hands it to any number of subscribers.
// A subscriber that falls behind gets only the newest value: nothing
// queues up behind a slow reader, and publishing never blocks.
type latest[T any] struct {
	mu      sync.Mutex
	current T
	subs    map[chan T]struct{}
}

// Current returns the newest value (the zero value before the first).
func (l *latest[T]) Current() T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// Subscribe returns a channel that receives each new value and a
// function that ends the subscription. The channel is never closed.
func (l *latest[T]) Subscribe() (<-chan T, func()) {
	ch := make(chan T, 1)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[chan T]struct{}{}
	}
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

// subscribers is the number of current subscriptions.
func (l *latest[T]) subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

// publishIf stores v and sends it to every subscriber when newer(old, v)
// holds (always, if newer is nil), replacing a value a subscriber has not
// taken yet. It reports whether v was published.
func (l *latest[T]) publishIf(v T, newer func(old, v T) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if newer != nil && !newer(l.current, v) {
		return false
	}
	l.current = v
	for ch := range l.subs {
		select {
		case <-ch: // drop the stale one
		default:
		}
		ch <- v
	}
	return true
}
