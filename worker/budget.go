package worker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
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
type Budget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
	held atomic.Int64
}

// NewBudget makes a budget of size bytes. A reservation that does not
// fit waits at most wait for others to release theirs.
func NewBudget(size int64, wait time.Duration) *Budget {
	return &Budget{sem: semaphore.NewWeighted(size), size: size, wait: wait}
}

// Size is the whole budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// Held is the bytes reserved now.
func (b *Budget) Held() int64 { return b.held.Load() }

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
	if !b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		defer cancel()
		if err := b.sem.Acquire(wctx, n); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %d more bytes not freed within %s", ErrOverBudget, n, b.wait)
		}
	}
	r.n += n
	b.held.Add(n)
	return nil
}

// Shrink gives back n bytes (at most what the reservation holds), for
// memory the request no longer references.
func (r *Reservation) Shrink(n int64) {
	n = min(n, r.n)
	if n > 0 {
		// held first: once released, the bytes may be taken at once,
		// and Held must never count them twice.
		r.budget.held.Add(-n)
		r.budget.sem.Release(n)
		r.n -= n
	}
}

// Held is the bytes this reservation holds.
func (r *Reservation) Held() int64 { return r.n }

// Release returns everything the reservation holds. It may be called
// more than once.
func (r *Reservation) Release() {
	if r.n > 0 {
		r.budget.held.Add(-r.n) // before the release, as in Shrink
		r.budget.sem.Release(r.n)
		r.n = 0
	}
}
