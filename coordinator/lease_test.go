package coordinator

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// scriptedLease answers KeepAliveOnce as a test says: the first renewal
// after firstDelay with firstTTL seconds (or firstErr), every later one
// never (until its context ends).
type scriptedLease struct {
	clientv3.Lease // only KeepAliveOnce is called
	firstDelay     time.Duration
	firstTTL       int64
	firstErr       error
	calls          atomic.Int32
	firstSent      atomic.Int64 // unix nanoseconds
}

func (s *scriptedLease) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	if s.calls.Add(1) > 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.firstSent.Store(time.Now().UnixNano())
	select {
	case <-time.After(s.firstDelay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.firstErr != nil {
		return nil, s.firstErr
	}
	return &clientv3.LeaseKeepAliveResponse{ID: id, TTL: s.firstTTL}, nil
}

// A leader never believes in its lease longer than etcd does: the local
// expiry counts from when a renewal was sent, not from when its slow
// answer arrived, and a renewal etcd refuses ends the lease at once.
func TestLeaseExpiryCountsFromTheRenewalsSendTime(t *testing.T) {
	const every = 20 * time.Millisecond
	tests := []struct {
		name    string
		script  *scriptedLease
		wantErr error
		// the lease must be given up within [min, max] of the first
		// renewal's send time
		min, max time.Duration
	}{
		{
			name:    "slow answer, then silence",
			script:  &scriptedLease{firstDelay: 600 * time.Millisecond, firstTTL: 1},
			wantErr: errLeaseExpired,
			// etcd's countdown began no earlier than the send: 1 s after
			// it, not 1 s after the answer (which would be 1.6 s).
			min: time.Second - 50*time.Millisecond, max: 1400 * time.Millisecond,
		},
		{
			name:    "lease not found",
			script:  &scriptedLease{firstErr: rpctypes.ErrLeaseNotFound},
			wantErr: rpctypes.ErrLeaseNotFound,
			min:     0, max: 300 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &lease{client: tt.script, id: 1, every: every}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := l.keepAlive(ctx, time.Now(), time.Second)
			ended := time.Now()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("keepAlive: %v, want %v", err, tt.wantErr)
			}
			sent := time.Unix(0, tt.script.firstSent.Load())
			if held := ended.Sub(sent); held < tt.min || held > tt.max {
				t.Fatalf("lease given up %s after the first renewal was sent, want within [%s, %s]", held, tt.min, tt.max)
			}
		})
	}
}

// A keepalive whose context ends returns nil: the caller stopped it.
func TestLeaseKeepAliveStopsWithItsContext(t *testing.T) {
	l := &lease{client: &scriptedLease{firstDelay: time.Hour}, id: 1, every: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.keepAlive(ctx, time.Now(), time.Hour) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("keepAlive after cancel: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("keepAlive did not return after its context ended")
	}
}
