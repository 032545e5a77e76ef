package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

func TestPoolRefusesWhenFullInsteadOfQueueingForever(t *testing.T) {
	p := NewPool(2, 1)
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for range 3 { // two run, one waits in the queue
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Do(context.Background(), func(context.Context) error {
				started <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	<-started
	<-started
	deadline := time.Now().Add(2 * time.Second)
	for p.Queued() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if p.InFlight() != 2 || p.Queued() != 1 {
		t.Fatalf("in flight %d, queued %d; want 2 and 1", p.InFlight(), p.Queued())
	}
	begin := time.Now()
	if err := p.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ErrBusy) {
		t.Fatalf("fourth job: %v, want ErrBusy", err)
	}
	if time.Since(begin) > 100*time.Millisecond {
		t.Fatal("ErrBusy was not immediate")
	}
	close(release)
	wg.Wait()
	if p.InFlight() != 0 || p.Queued() != 0 {
		t.Fatalf("after all: in flight %d, queued %d", p.InFlight(), p.Queued())
	}
}

func TestQueuedJobHonoursContext(t *testing.T) {
	p := NewPool(1, 5)
	release := make(chan struct{})
	go p.Do(context.Background(), func(context.Context) error { <-release; return nil })
	testenv.WaitFor(t, 5*time.Second, "the first job to start", func() bool { return p.InFlight() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	err := p.Do(ctx, func(context.Context) error { ran = true; return nil })
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("queued job with expired context: err %v, ran %t", err, ran)
	}
}

// Small jobs are not stuck behind big ones: with every general slot and
// the queue's head taken by big jobs, a small job runs at once on the
// express slot; a big job never does.
func TestSmallJobsHaveAnExpressSlot(t *testing.T) {
	p := NewPool(2, 4)
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 2)
	for range 2 {
		go p.Do(context.Background(), func(context.Context) error { started <- struct{}{}; <-release; return nil })
	}
	<-started
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Do(ctx, func(context.Context) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a big job with every general slot taken: %v, want it to wait", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.DoSmall(context.Background(), func(context.Context) error { return nil }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("small job: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a small job waited behind big ones")
	}
	if p.InFlight() != 2 || p.Queued() != 0 {
		t.Fatalf("after: in flight %d, queued %d", p.InFlight(), p.Queued())
	}
}
