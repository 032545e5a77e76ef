package worker

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrBusy: every worker is busy and the queue is full.
var ErrBusy = errors.New("worker: busy")

// Pool runs jobs on at most Parallel goroutines at once, with at most
// Queue more waiting. Its methods are safe for concurrent use.
type Pool struct {
	slots    chan struct{}
	queueCap int64
	waiting  atomic.Int64
	running  atomic.Int64
}

// NewPool makes a pool; parallel and queue are at least 1 and 0.
func NewPool(parallel, queue int) *Pool {
	return &Pool{slots: make(chan struct{}, max(parallel, 1)), queueCap: int64(max(queue, 0))}
}

// Do runs job on the calling goroutine once a worker slot is free. It
// returns ErrBusy at once if all slots are taken and the queue is full, ctx.Err() if ctx ends while queued,
// and otherwise job's error. job gets ctx and must honour it: a client
// that goes away cancels its job.
func (p *Pool) Do(ctx context.Context, job func(context.Context) error) error {
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
