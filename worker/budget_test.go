package worker

import (
	"context"
	"errors"
	"sync"
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
