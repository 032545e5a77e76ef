package coordinator

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// lease is an etcd lease kept alive by this node, with the local belief
// of when it expires.
//
// The local expiry is taken from the time a keepalive was *sent*, plus the
// TTL etcd granted in its answer: etcd restarted the lease's countdown no
// earlier than the request left us, so a node never believes in its lease
// longer than etcd does, however long the answer took to come back
// (tikv/pd's pkg/election/lease.go does the same).
type lease struct {
	client clientv3.Lease
	id     clientv3.LeaseID
	every  time.Duration // renewal interval
}

// errLeaseExpired: the lease's local expiry passed without a renewal
// confirming it; etcd may have deleted it and its keys.
var errLeaseExpired = errors.New("coordinator: lease expired locally (no renewal confirmed in time)")

// keepAlive renews the lease every l.every until ctx ends (nil) or the
// lease is known or feared gone: etcd refused a renewal (the lease no
// longer exists) or the local expiry passed unconfirmed (errLeaseExpired).
// granted is when the lease was granted (its first expiry is granted +
// ttl).
func (l *lease) keepAlive(ctx context.Context, granted time.Time, ttl time.Duration) error {
	expiry := granted.Add(ttl)
	ticker := time.NewTicker(l.every)
	defer ticker.Stop()
	expired := time.NewTimer(time.Until(expiry))
	defer expired.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-expired.C:
			return errLeaseExpired
		case <-ticker.C:
		}
		sent := time.Now()
		// One renewal may not hold the loop for the rest of the lease.
		// A follower forwards a renewal to the raft leader it knows and
		// retries that leader until etcd's request timeout (seconds); if
		// that leader has just died, the renewal waits for a dead
		// address while raft elects another leader in a few hundred
		// milliseconds. A renewal sent after that reaches the new leader,
		// so each try gets a quarter of the TTL, and never more than the
		// lease has left (a later answer would be of no use).
		deadline := sent.Add(ttl / 4)
		if expiry.Before(deadline) {
			deadline = expiry
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		resp, err := l.client.KeepAliveOnce(rctx, l.id)
		cancel()
		switch {
		case err == nil && resp.TTL > 0:
			expiry = sent.Add(time.Duration(resp.TTL) * time.Second)
			expired.Reset(time.Until(expiry))
		case err == nil:
			return errors.New("coordinator: lease renewal answered TTL 0 (lease gone)")
		case ctx.Err() != nil:
			return nil
		case !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
			return err // lease not found, or etcd refused: it is gone
		}
		// A renewal that timed out proves nothing; the expiry timer
		// decides.
	}
}

// revoke ends the lease, deleting the keys attached to it, within a
// short timeout (if this fails the lease expires anyway).
func (l *lease) revoke() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := l.client.Revoke(ctx, l.id)
	return err
}
