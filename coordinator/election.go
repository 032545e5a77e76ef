package coordinator

import (
	"context"
	"errors"
	"fmt"
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
	Since time.Time
}

// ElectorConfig tunes the election.
type ElectorConfig struct {
	NodeID string
	// LeaseTTL is the session lease in seconds: how long a dead leader
	// holds the key at most. 1 s is etcd's minimum.
	LeaseTTL int
	// KeepAliveEvery is how often the lease is renewed and checked. A
	// leader whose renewal says the lease is gone steps down at once, so
	// this bounds how long a deposed leader can believe it leads.
	KeepAliveEvery time.Duration
	// OnChange, if set, is called (from the elector's goroutine) after
	// every change of this node's leadership.
	OnChange func(Leadership)
}

// Elector campaigns for leadership with concurrency.Election and keeps
// campaigning (after losing, or after its session expires) until Run's
// context ends. Pause makes it give up leadership and stop campaigning.
type Elector struct {
	client *clientv3.Client
	cfg    ElectorConfig

	mu      sync.Mutex
	current Leadership
	paused  bool
	wake    chan struct{} // closed and replaced when paused flips or a step-down is asked
}

// NewElector prepares an elector; nothing happens until Run.
func NewElector(client *clientv3.Client, cfg ElectorConfig) *Elector {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 1
	}
	if cfg.KeepAliveEvery <= 0 {
		cfg.KeepAliveEvery = 50 * time.Millisecond
	}
	return &Elector{client: client, cfg: cfg, wake: make(chan struct{})}
}

// Leadership returns this node's current view of its leadership.
func (e *Elector) Leadership() Leadership {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// Pause resigns leadership (if held) and stops campaigning until Resume.
// It returns at once; the resignation happens on Run's goroutine.
func (e *Elector) Pause() { e.setPaused(true) }

// Resume lets a paused elector campaign again.
func (e *Elector) Resume() { e.setPaused(false) }

// Paused reports whether the elector is paused.
func (e *Elector) Paused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused
}

func (e *Elector) setPaused(p bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.paused != p {
		e.paused = p
		close(e.wake)
		e.wake = make(chan struct{})
	}
}

// wakeup returns the channel closed at the next pause/resume.
func (e *Elector) wakeup() (<-chan struct{}, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.wake, e.paused
}

func (e *Elector) set(l Leadership) {
	e.mu.Lock()
	changed := l.IsLeader != e.current.IsLeader || l.Epoch != e.current.Epoch
	e.current = l
	e.mu.Unlock()
	if changed && e.cfg.OnChange != nil {
		e.cfg.OnChange(l)
	}
}

// Run campaigns until ctx ends. When ctx ends it resigns (if leader),
// revokes its lease and returns nil; all goroutines it started have
// ended by then. Errors talking to etcd are retried, not returned.
func (e *Elector) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		wake, paused := e.wakeup()
		if paused {
			select {
			case <-wake:
			case <-ctx.Done():
			}
			continue
		}
		if err := e.term(ctx, wake); err != nil && ctx.Err() == nil {
			// A failed term (etcd unavailable, session lost mid-campaign)
			// is retried after a short pause so a broken cluster is not
			// hammered.
			select {
			case <-time.After(e.cfg.KeepAliveEvery):
			case <-ctx.Done():
			}
		}
	}
	return nil
}

// term is one session: campaign, lead until the lease is lost or the
// elector is paused or stopped, then clean up.
func (e *Elector) term(ctx context.Context, wake <-chan struct{}) error {
	grant, err := e.client.Grant(ctx, int64(e.cfg.LeaseTTL))
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	termCtx, stop := context.WithCancel(ctx)
	defer stop()
	session, err := concurrency.NewSession(e.client, concurrency.WithLease(grant.ID), concurrency.WithContext(termCtx))
	if err != nil {
		e.revoke(grant.ID)
		return fmt.Errorf("session: %w", err)
	}
	// The fast keepalive renews the lease every KeepAliveEvery and ends
	// the term (stop) as soon as the lease is known or feared lost.
	lost := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(lost)
		e.keepAlive(termCtx, grant.ID)
		stop()
	}()
	defer func() {
		stop()
		wg.Wait()
		e.set(Leadership{})
		session.Orphan()
		e.revoke(grant.ID)
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
	err = election.Campaign(campaignCtx, e.cfg.NodeID)
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
	e.set(Leadership{IsLeader: true, Key: election.Key(), Epoch: election.Rev(), Since: time.Now()})

	select {
	case <-lost:
	case <-session.Done():
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

// keepAlive renews the lease until ctx ends or the lease is gone (or
// cannot be confirmed for a whole TTL).
func (e *Elector) keepAlive(ctx context.Context, id clientv3.LeaseID) {
	ticker := time.NewTicker(e.cfg.KeepAliveEvery)
	defer ticker.Stop()
	ttl := time.Duration(e.cfg.LeaseTTL) * time.Second
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		rctx, cancel := context.WithTimeout(ctx, e.cfg.KeepAliveEvery*4)
		resp, err := e.client.KeepAliveOnce(rctx, id)
		cancel()
		switch {
		case err == nil && resp.TTL > 0:
			lastOK = time.Now()
		case err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
			return // lease not found, or etcd refused: it is gone
		case time.Since(lastOK) >= ttl:
			return // unconfirmed for a whole TTL: it may be gone
		}
	}
}

// revoke ends a lease, deleting the keys attached to it, in the
// background of a short timeout (the lease expires anyway if this fails).
func (e *Elector) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = e.client.Revoke(ctx, id)
}

// FencedPut writes key=value only while this node's leadership term is
// still current in etcd: the transaction compares the election key's
// create revision with the epoch. A deposed leader's write fails with
// ErrFenced even if it has not noticed yet; a node that knows it is not
// leader gets ErrNotLeader without a round trip.
func (e *Elector) FencedPut(ctx context.Context, key, value string) error {
	l := e.Leadership()
	if !l.IsLeader {
		return ErrNotLeader
	}
	return fencedPut(ctx, e.client, l, key, value)
}

// fencedPut is the transaction behind FencedPut, for a given term.
func fencedPut(ctx context.Context, client *clientv3.Client, l Leadership, key, value string) error {
	resp, err := client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(l.Key), "=", l.Epoch)).
		Then(clientv3.OpPut(key, value)).
		Commit()
	if err != nil {
		return fmt.Errorf("coordinator: fenced put %s: %w", key, err)
	}
	if !resp.Succeeded {
		return ErrFenced
	}
	return nil
}
