package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Sentinel errors of the election.
var (
	// ErrNotLeader: a leader-only operation was asked of a node that does
	// not hold leadership (or has just lost it).
	ErrNotLeader = errors.New("coordinator: not the leader")
	// ErrFenced: a fenced write was refused by etcd because the writer's
	// election key is gone or was re-created — it has been deposed.
	ErrFenced = errors.New("coordinator: write fenced off: leadership lost")
)

// Leadership is what a node knows about its own role.
type Leadership struct {
	IsLeader bool
	// Key and Epoch identify the term of leadership: the election key
	// and its create revision. Epochs only grow.
	Key   string
	Epoch int64
}

// electorConfig tunes the election.
type electorConfig struct {
	nodeID string
	// leaseTTL is the session lease: how long a dead leader holds the
	// key at most. 1 s is etcd's minimum.
	leaseTTL time.Duration
	// keepAliveEvery is how often the lease is renewed. A renewal that
	// etcd answers with "no such lease" makes a leader step down at once,
	// so while etcd is reachable a deposed leader believes it leads for
	// at most about one interval; when etcd is unreachable, the bound is
	// the lease's local expiry (see lease).
	keepAliveEvery time.Duration
	// onChange, if set, is called (from the elector's goroutine) after
	// every change of this node's leadership.
	onChange func(Leadership)
}

// elector campaigns for leadership with concurrency.Election and keeps
// campaigning (after losing, or after its session expires) until Run's
// context ends. Pause makes it give up leadership and stop campaigning.
type elector struct {
	client *clientv3.Client
	cfg    electorConfig
	log    *slog.Logger

	mu      sync.Mutex
	current Leadership
	changes uint64
	paused  bool
	wake    chan struct{} // closed and replaced when paused flips
}

func newElector(client *clientv3.Client, cfg electorConfig, log *slog.Logger) *elector {
	return &elector{client: client, cfg: cfg, log: log, wake: make(chan struct{})}
}

// Leadership returns this node's current view of its leadership.
func (e *elector) Leadership() Leadership {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// changeCount is how many times this node won or lost leadership.
func (e *elector) changeCount() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changes
}

// Pause resigns leadership (if held) and stops campaigning until Resume.
// It returns at once; the resignation happens on Run's goroutine.
func (e *elector) Pause() { e.setPaused(true) }

// Resume lets a paused elector campaign again.
func (e *elector) Resume() { e.setPaused(false) }

// Paused reports whether the elector is paused.
func (e *elector) Paused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused
}

func (e *elector) setPaused(p bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.paused != p {
		e.paused = p
		close(e.wake)
		e.wake = make(chan struct{})
	}
}

// wakeup returns the channel closed at the next pause/resume.
func (e *elector) wakeup() (<-chan struct{}, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.wake, e.paused
}

func (e *elector) set(l Leadership) {
	e.mu.Lock()
	changed := l.IsLeader != e.current.IsLeader || l.Epoch != e.current.Epoch
	e.current = l
	if changed {
		e.changes++
	}
	e.mu.Unlock()
	if changed && e.cfg.onChange != nil {
		e.cfg.onChange(l)
	}
}

// Run campaigns until ctx ends. When ctx ends it resigns (if leader),
// revokes its lease and returns nil; all goroutines it started have
// ended by then but one: a campaign cancelled while it waited cleans up
// with a Resign that is not waited for (see term), and ends when that is
// answered or the client closes. Errors talking to etcd are logged and
// retried, not returned.
func (e *elector) Run(ctx context.Context) error {
	failed := 0 // terms failed in a row
	for ctx.Err() == nil {
		wake, paused := e.wakeup()
		if paused {
			select {
			case <-wake:
			case <-ctx.Done():
			}
			continue
		}
		began := time.Now()
		err := e.term(ctx, wake)
		switch {
		case ctx.Err() != nil:
		case err == nil:
			if failed > 1 {
				e.log.Info("election terms work again", "failed_in_a_row", failed)
			}
			failed = 0
		default:
			// A failed term (etcd unavailable, no raft leader on this
			// side of a partition) is retried after a short pause, not
			// a growing one: a candidate must be back in the race as
			// soon as etcd is. The first failure of a run is a warning,
			// the rest of it debug: a partition of minutes would
			// otherwise log twenty warnings a second.
			if time.Since(began) > 2*e.cfg.leaseTTL {
				failed = 0 // a term that lasted ended the last run
			}
			if failed == 0 {
				e.log.Warn("election term ended", "err", err)
			} else {
				e.log.Debug("election term ended", "err", err, "failed_in_a_row", failed+1)
			}
			failed++
			select {
			case <-time.After(e.cfg.keepAliveEvery):
			case <-ctx.Done():
			}
		}
	}
	return nil
}

// term is one session: campaign, lead until the lease is lost or the
// elector is paused or stopped, then clean up.
func (e *elector) term(ctx context.Context, wake <-chan struct{}) error {
	granted := time.Now()
	grant, err := e.client.Grant(ctx, int64(e.cfg.leaseTTL/time.Second))
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	l := &lease{client: e.client, id: grant.ID, every: e.cfg.keepAliveEvery}
	termCtx, stop := context.WithCancel(ctx)
	defer stop()
	session, err := concurrency.NewSession(e.client, concurrency.WithLease(grant.ID), concurrency.WithContext(termCtx))
	if err != nil {
		_ = l.revoke()
		return fmt.Errorf("session: %w", err)
	}
	// Our own keepalive, not the session's: it renews every
	// keepAliveEvery and ends the term (stop) as soon as the lease is
	// known or feared lost.
	lost := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(lost)
		if err := l.keepAlive(termCtx, granted, time.Duration(grant.TTL)*time.Second); err != nil {
			e.log.Warn("election lease lost", "lease", fmt.Sprintf("%x", grant.ID), "err", err)
		}
		stop()
	}()
	defer func() {
		stop()
		wg.Wait()
		e.set(Leadership{})
		session.Orphan()
		if err := l.revoke(); err != nil && ctx.Err() == nil {
			e.log.Debug("revoking the election lease failed; it expires anyway", "err", err)
		}
	}()

	// NewElection adds the "/" itself.
	election := concurrency.NewElection(session, strings.TrimSuffix(ElectionPrefix, "/"))
	campaignCtx, cancelCampaign := context.WithCancel(termCtx)
	go func() {
		select {
		case <-wake:
			cancelCampaign()
		case <-campaignCtx.Done():
		}
	}()
	// Campaign cleans up after a cancellation with a Resign on the
	// client's own context, which has no deadline: without a quorum it
	// waits out etcd's request timeout (about 5.5 s), longer than a
	// shutdown may take. So a cancelled campaign is not waited for: its
	// goroutine ends when that Resign is answered or the client closes,
	// and the deferred revoke deletes the key in any case. A campaign
	// that won just as it was cancelled counts as cancelled: the term
	// ends before it claims anything.
	campaigned := make(chan error, 1)
	go func() { campaigned <- election.Campaign(campaignCtx, e.cfg.nodeID) }()
	select {
	case err = <-campaigned:
	case <-campaignCtx.Done():
		err = campaignCtx.Err()
	}
	cancelCampaign()
	if err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	// Campaign can return without our key existing any more (a revoked
	// candidate lease): trust only what etcd says now.
	resp, err := e.client.Get(termCtx, election.Key())
	if err != nil {
		return fmt.Errorf("verify leadership: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != election.Rev() || clientv3.LeaseID(resp.Kvs[0].Lease) != grant.ID {
		return fmt.Errorf("verify leadership: %w", ErrFenced)
	}
	e.set(Leadership{IsLeader: true, Key: election.Key(), Epoch: election.Rev()})

	// Not session.Done(): the session's own keepalive shares one stream
	// per client, and its member answers the renewals on a stream in
	// turn; one renewal forwarded to a raft leader that just died holds
	// up the others for longer than the lease's TTL, after which the
	// session gives up on a lease etcd still holds. Our keepalive sends
	// each renewal on a stream of its own and decides by the send times
	// (lease.go), which is the stricter of the two anyway.
	select {
	case <-lost:
	case <-wake:
	case <-ctx.Done():
	}
	e.set(Leadership{})
	// Resign promptly on a deliberate step-down so a successor need not
	// wait for the lease to expire. Revoking the lease (in the deferred
	// cleanup) deletes the key as well; Resign first makes the hand-over
	// one round trip shorter for watchers.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := election.Resign(rctx); err != nil {
		return fmt.Errorf("resign: %w", err)
	}
	return nil
}

// FencedTxn commits ops only while term l — the one the caller built
// its write from — is still current in etcd (see fencedTxn) and cmps
// hold. A deposed leader's write fails with ErrFenced even if it has not
// noticed yet; a node that knows l is not its current term (it lost it,
// or lost it and won another since: the write would carry the old
// term's epoch) gets ErrNotLeader without a round trip.
func (e *elector) FencedTxn(ctx context.Context, l Leadership, cmps []clientv3.Cmp, ops ...clientv3.Op) error {
	if !l.IsLeader || e.Leadership() != l {
		return ErrNotLeader
	}
	return fencedTxn(ctx, e.client, l, cmps, ops...)
}
