package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		done    func(calls int) bool
		wantErr func(error) bool
	}{
		{"true at once", context.Background(), func(int) bool { return true }, func(err error) bool { return err == nil }},
		{"true on the third check", context.Background(), func(n int) bool { return n >= 3 }, func(err error) bool { return err == nil }},
		{"never: times out naming what", context.Background(), func(int) bool { return false },
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "the thing") }},
		{"context ended", cancelled, func(int) bool { return false },
			func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Until(tt.ctx, 100*time.Millisecond, "the thing", func() bool { calls++; return tt.done(calls) })
			if !tt.wantErr(err) {
				t.Fatalf("Until: %v after %d checks", err, calls)
			}
		})
	}
}
