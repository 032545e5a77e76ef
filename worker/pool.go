package worker

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrBusy: every worker is busy and the queue is full.
var ErrBusy = errors.New("worker: busy")

// Pool runs jobs on at most parallel goroutines at once, with at most
// queue more waiting, plus one express slot that only small jobs may
// use: a cheap request (a 4 KB hide into the built-in cover) never waits
// behind expensive ones (decoding 50-megapixel covers), which once made
// it take 2–3 s on a node the expensive jobs filled. Its methods are
// safe for concurrent use.
type Pool struct {
	slots    chan struct{}
	express  chan struct{}
	queueCap int64
	waiting  atomic.Int64
	running  atomic.Int64
}

// NewPool makes a pool; parallel and queue are at least 1 and 0.
func NewPool(parallel, queue int) *Pool {
	return &Pool{slots: make(chan struct{}, max(parallel, 1)), express: make(chan struct{}, 1), queueCap: int64(max(queue, 0))}
}

// Do runs job on the calling goroutine once a worker slot is free. It
// returns ErrBusy at once if all slots are taken and the queue is full,
// ctx.Err() if ctx ends while queued, and otherwise job's error. job gets
// ctx and must honour it: a client that goes away cancels its job.
func (p *Pool) Do(ctx context.Context, job func(context.Context) error) error {
	return p.do(ctx, nil, job)
}

// DoSmall is Do for a job the caller knows to be small: it may also run
// on the express slot, whichever frees first. The caller decides what
// small means (the API: little memory, hence little work).
func (p *Pool) DoSmall(ctx context.Context, job func(context.Context) error) error {
	return p.do(ctx, p.express, job)
}

// do takes a general slot, or the express one when express is not nil.
func (p *Pool) do(ctx context.Context, express chan struct{}, job func(context.Context) error) error {
	var slot chan struct{}
	select {
	case p.slots <- struct{}{}:
		slot = p.slots
	case express <- struct{}{}: // a nil channel is never ready
		slot = express
	default:
		if p.waiting.Add(1) > p.queueCap {
			p.waiting.Add(-1)
			return ErrBusy
		}
		select {
		case p.slots <- struct{}{}:
			slot = p.slots
		case express <- struct{}{}:
			slot = express
		case <-ctx.Done():
			p.waiting.Add(-1)
			return ctx.Err()
		}
		p.waiting.Add(-1)
	}
	p.running.Add(1)
	defer func() {
		p.running.Add(-1)
		<-slot
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
