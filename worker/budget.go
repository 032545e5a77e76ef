package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of the memory budget.
var (
	// ErrOverBudget: the memory the request needs is held by others and
	// was not freed within the budget's wait. Retry soon (503).
	ErrOverBudget = errors.New("worker: memory budget in use")
	// ErrExceedsBudget: the request needs more memory than the node's
	// whole budget; it can never run here (413).
	ErrExceedsBudget = errors.New("worker: request needs more memory than the node's budget")
)

// Budget is a node's memory budget, in bytes: what requests may hold at
// once while they buffer uploads, decode images and encode answers. A
// job count alone does not bound memory — one request may decode 50
// megapixels, another a few kilobytes — so each request reserves what it
// is about to allocate, before allocating it. Its methods are safe for
// concurrent use.
//
// A reservation that fits is granted at once, even while a larger one
// waits: waiters are not served in order. In order (a FIFO semaphore)
// one upload of hundreds of megabytes waiting at the head would hold
// back every quick hide behind it until they too gave up with 503; this
// way the large one may wait out its time and get the 503 instead, and
// is retried.
type Budget struct {
	size int64
	wait time.Duration

	mu      sync.Mutex
	held    int64
	changed chan struct{} // closed, and replaced, whenever bytes are freed
}

// NewBudget makes a budget of size bytes. A reservation that does not
// fit waits at most wait for others to release theirs.
func NewBudget(size int64, wait time.Duration) *Budget {
	return &Budget{size: size, wait: wait, changed: make(chan struct{})}
}

// Size is the whole budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// Held is the bytes reserved now.
func (b *Budget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// take reserves n bytes if they are free; otherwise it returns a channel
// closed at the next release.
func (b *Budget) take(n int64) (ok bool, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held+n <= b.size {
		b.held += n
		return true, nil
	}
	return false, b.changed
}

// give frees n bytes and wakes every waiter to try again.
func (b *Budget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held -= n
	close(b.changed)
	b.changed = make(chan struct{})
}

// Reserve starts an empty reservation for one request. Release it when
// the request's memory is no longer referenced (typically deferred).
func (b *Budget) Reserve() *Reservation { return &Reservation{budget: b} }

// Reservation is the memory one request holds from a Budget. It is used
// by one goroutine at a time.
type Reservation struct {
	budget *Budget
	n      int64
}

// Grow reserves n more bytes. It waits at most the budget's wait, or
// until ctx ends, for them to be free; then it returns ErrOverBudget (or
// ctx.Err()), holding what it held before. A reservation that would
// exceed the whole budget fails at once with ErrExceedsBudget.
func (r *Reservation) Grow(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	b := r.budget
	if r.n+n > b.size {
		return fmt.Errorf("%w: %d bytes, the budget is %d", ErrExceedsBudget, r.n+n, b.size)
	}
	ok, changed := b.take(n)
	if !ok {
		timer := time.NewTimer(b.wait)
		defer timer.Stop()
		for !ok {
			select {
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				return fmt.Errorf("%w: %d more bytes not freed within %s", ErrOverBudget, n, b.wait)
			}
			ok, changed = b.take(n)
		}
	}
	r.n += n
	return nil
}

// Shrink gives back n bytes (at most what the reservation holds), for
// memory the request no longer references.
func (r *Reservation) Shrink(n int64) {
	n = min(n, r.n)
	if n > 0 {
		r.budget.give(n)
		r.n -= n
	}
}

// Held is the bytes this reservation holds.
func (r *Reservation) Held() int64 { return r.n }

// Release returns everything the reservation holds. It may be called
// more than once.
func (r *Reservation) Release() {
	if r.n > 0 {
		r.budget.give(r.n)
		r.n = 0
	}
}
