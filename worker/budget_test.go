package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBudgetGrow(t *testing.T) {
	tests := []struct {
		name    string
		held    int64 // by another request
		grow    []int64
		wantErr error
	}{
		{"fits", 0, []int64{40, 60}, nil},
		{"waits out, then refuses", 50, []int64{60}, ErrOverBudget},
		{"more than the whole budget, at once", 0, []int64{60, 41}, ErrExceedsBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(100, 20*time.Millisecond)
			other := b.Reserve()
			if err := other.Grow(context.Background(), tt.held); err != nil {
				t.Fatal(err)
			}
			r := b.Reserve()
			var err error
			for _, n := range tt.grow {
				if err = r.Grow(context.Background(), n); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) && (err != nil || tt.wantErr != nil) {
				t.Fatalf("Grow: %v, want %v", err, tt.wantErr)
			}
			if b.Held() != tt.held+r.Held() {
				t.Fatalf("budget holds %d, reservations %d + %d", b.Held(), tt.held, r.Held())
			}
			r.Shrink(r.Held() / 2)
			if b.Held() != tt.held+r.Held() {
				t.Fatalf("after Shrink the budget holds %d, reservations %d + %d", b.Held(), tt.held, r.Held())
			}
			r.Release()
			r.Release() // twice is harmless
			other.Release()
			if b.Held() != 0 {
				t.Fatalf("after release the budget holds %d", b.Held())
			}
		})
	}
}

// Memory a request releases lets a waiting one through; no moment sees
// more reserved than the budget, however many requests compete.
func TestBudgetNeverOvercommits(t *testing.T) {
	b := NewBudget(1000, time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := int64(0)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := b.Reserve()
			defer r.Release()
			for range 3 {
				if err := r.Grow(context.Background(), int64(50+i*3)); err != nil {
					return // over budget after the wait: refused, fine
				}
				mu.Lock()
				peak = max(peak, b.Held())
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if peak > b.Size() || peak == 0 {
		t.Fatalf("peak reservation %d of a %d-byte budget", peak, b.Size())
	}
	if b.Held() != 0 {
		t.Fatalf("%d bytes still held", b.Held())
	}
}

func TestBudgetWaitHonoursContext(t *testing.T) {
	b := NewBudget(10, time.Hour)
	full := b.Reserve()
	_ = full.Grow(context.Background(), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Reserve().Grow(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Grow with an ending context: %v", err)
	}
}

// TestHeldNeverExceedsSize: Release and Shrink lower Held before they
// free the bytes, so a Grow that takes them at once never makes Held
// count them twice. It once reached 200 of a 100-byte budget, and a
// caller reading Size-Held as what is free saw a negative figure.
func TestHeldNeverExceedsSize(t *testing.T) {
	b := NewBudget(100, time.Second)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				r := b.Reserve()
				if r.Grow(context.Background(), 100) == nil {
					if i%2 == 0 {
						r.Shrink(100)
					}
					r.Release()
				}
			}
		}()
	}
	worst := int64(0)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		worst = max(worst, b.Held())
	}
	stop.Store(true)
	wg.Wait()
	if worst > b.Size() {
		t.Fatalf("Held() reached %d of a %d-byte budget", worst, b.Size())
	}
}

// A reservation that fits is granted at once while a larger one waits:
// one huge upload waiting for memory must not hold back every quick hide
// behind it (a FIFO semaphore did, each until its own wait ran out).
func TestBudgetFittingReservationPassesAWaitingOne(t *testing.T) {
	b := NewBudget(100, 2*time.Second)
	held := b.Reserve()
	if err := held.Grow(context.Background(), 50); err != nil {
		t.Fatal(err)
	}
	big := make(chan error, 1)
	go func() {
		r := b.Reserve()
		defer r.Release()
		big <- r.Grow(context.Background(), 80) // waits: 50 are held
	}()
	time.Sleep(50 * time.Millisecond) // let it start waiting
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	small := b.Reserve()
	if err := small.Grow(ctx, 10); err != nil {
		t.Fatalf("10 bytes of 50 free, behind a waiting 80: %v", err)
	}
	small.Release()
	held.Release() // now the big one fits
	if err := <-big; err != nil {
		t.Fatalf("the waiting reservation, once its bytes were freed: %v", err)
	}
}
