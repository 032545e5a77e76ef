package worker

import (
	"context"
	"errors"
	"sync/atomic"
)

// Sentinel errors.
var (
	// ErrBusy: every worker is busy and the queue is full.
	ErrBusy = errors.New("worker: busy")
	// ErrPaused: the node is paused by fault injection.
	ErrPaused = errors.New("worker: node paused")
)

// Pool runs jobs on at most Parallel goroutines at once, with at most
// Queue more waiting. Its methods are safe for concurrent use.
type Pool struct {
	slots    chan struct{}
	queueCap int64
	waiting  atomic.Int64
	running  atomic.Int64
	faults   *Faults
}

// NewPool makes a pool; parallel and queue are at least 1 and 0.
func NewPool(parallel, queue int, faults *Faults) *Pool {
	if faults == nil {
		faults = &Faults{}
	}
	return &Pool{slots: make(chan struct{}, max(parallel, 1)), queueCap: int64(max(queue, 0)), faults: faults}
}

// Do runs job on the calling goroutine once a worker slot is free. It
// returns ErrPaused if the node is paused, ErrBusy at once if all slots
// are taken and the queue is full, ctx.Err() if ctx ends while queued,
// and otherwise job's error. job gets ctx and must honour it: a client
// that goes away cancels its job.
func (p *Pool) Do(ctx context.Context, job func(context.Context) error) error {
	if p.faults.Paused() {
		return ErrPaused
	}
	select {
	case p.slots <- struct{}{}:
	default:
		if p.waiting.Add(1) > p.queueCap {
			p.waiting.Add(-1)
			return ErrBusy
		}
		select {
		case p.slots <- struct{}{}:
			p.waiting.Add(-1)
		case <-ctx.Done():
			p.waiting.Add(-1)
			return ctx.Err()
		}
	}
	p.running.Add(1)
	defer func() {
		p.running.Add(-1)
		<-p.slots
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	return job(ctx)
}

// InFlight is the number of jobs running now.
func (p *Pool) InFlight() int { return int(p.running.Load()) }

// Queued is the number of jobs waiting for a slot.
func (p *Pool) Queued() int { return int(p.waiting.Load()) }

// Parallel is the number of slots.
func (p *Pool) Parallel() int { return cap(p.slots) }

// Faults returns the pool's fault injection switch.
func (p *Pool) Faults() *Faults { return p.faults }
