package coordinator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// renewal is how a scriptedLease answers one KeepAliveOnce: after delay
// with ttl seconds or err; hang: never (until the call's context ends).
type renewal struct {
	delay time.Duration
	ttl   int64
	err   error
	hang  bool
}

// scriptedLease answers KeepAliveOnce calls in turn as script says, and
// every call after the script's end never.
type scriptedLease struct {
	clientv3.Lease // only KeepAliveOnce is called
	script         []renewal
	mu             sync.Mutex
	sent           []time.Time // when each call was made
}

func (s *scriptedLease) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	s.mu.Lock()
	n := len(s.sent)
	s.sent = append(s.sent, time.Now())
	s.mu.Unlock()
	r := renewal{hang: true}
	if n < len(s.script) {
		r = s.script[n]
	}
	if r.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	return &clientv3.LeaseKeepAliveResponse{ID: id, TTL: r.ttl}, nil
}

// sentAt is when call i was made (zero if it was not).
func (s *scriptedLease) sentAt(i int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < len(s.sent) {
		return s.sent[i]
	}
	return time.Time{}
}

// A leader never believes in its lease longer than etcd does: the local
// expiry counts from when a renewal was sent, not from when its slow
// answer arrived, and a renewal etcd refuses ends the lease at once. A
// renewal stuck on a dead raft leader does not stop later ones from
// renewing the lease through the new one.
func TestLeaseExpiryCountsFromTheRenewalsSendTime(t *testing.T) {
	const every = 20 * time.Millisecond
	tests := []struct {
		name    string
		script  []renewal
		wantErr error
		// the lease must be given up within [min, max] of the send
		// time of renewal number from (counting from 0)
		from     int
		min, max time.Duration
	}{
		{
			name:    "slow answer, then silence",
			script:  []renewal{{delay: 200 * time.Millisecond, ttl: 1}},
			wantErr: errLeaseExpired,
			// etcd's countdown began no earlier than the send: 1 s after
			// it, not 1 s after the answer (which would be 1.2 s).
			min: time.Second - 50*time.Millisecond, max: 1150 * time.Millisecond,
		},
		{
			name:    "lease not found",
			script:  []renewal{{err: rpctypes.ErrLeaseNotFound}},
			wantErr: rpctypes.ErrLeaseNotFound,
			min:     0, max: 300 * time.Millisecond,
		},
		{
			// The first renewal is forwarded to a raft leader that
			// died; the next, sent after a quarter of the TTL, reaches
			// the new one and keeps the lease for 1 s from its send.
			name:    "stuck renewal, then a later one answers",
			script:  []renewal{{hang: true}, {ttl: 1}},
			wantErr: errLeaseExpired,
			from:    1,
			min:     time.Second - 50*time.Millisecond, max: 1150 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := &scriptedLease{script: tt.script}
			l := &lease{client: script, id: 1, every: every}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := l.keepAlive(ctx, time.Now(), time.Second)
			ended := time.Now()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("keepAlive: %v, want %v", err, tt.wantErr)
			}
			sent := script.sentAt(tt.from)
			if sent.IsZero() {
				t.Fatalf("renewal %d was never sent", tt.from)
			}
			if held := ended.Sub(sent); held < tt.min || held > tt.max {
				t.Fatalf("lease given up %s after renewal %d was sent, want within [%s, %s]", held, tt.from, tt.min, tt.max)
			}
		})
	}
}

// A keepalive whose context ends returns nil: the caller stopped it.
func TestLeaseKeepAliveStopsWithItsContext(t *testing.T) {
	l := &lease{client: &scriptedLease{script: []renewal{{hang: true}}}, id: 1, every: 10 * time.Millisecond}
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
