// Package poll waits for a condition that nothing announces, such as a
// process exiting or a cluster agreeing on a leader, by checking it
// every Interval. stegoctl's benchmarks and every test use it, so there
// is one such loop in the project, bounded by a timeout and a context.
package poll

import (
	"context"
	"fmt"
	"time"
)

// Interval is how often Until checks its condition.
const Interval = 20 * time.Millisecond

// Until calls done every Interval until it reports true (nil), ctx ends
// (ctx.Err()) or timeout passes (an error naming what was awaited).
func Until(ctx context.Context, timeout time.Duration, what string, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(Interval):
		}
	}
	return nil
}
