package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// registry keeps this node's entry (NodeKey for a member, WorkerKey for
// a worker) alive under its own lease: the entry disappears within the
// lease TTL of the node dying.
type registry struct {
	client   *clientv3.Client
	key      string
	log      *slog.Logger
	ttl      int64 // seconds
	interval time.Duration
	// lastOK is when the last write succeeded, with the monotonic clock
	// reading time.Now gives: a step of the wall clock must not make a
	// worker report itself degraded, or hide that it is.
	lastOK atomic.Pointer[time.Time]
}

// lastWrite is when the entry was last written, or zero if never.
func (r *registry) lastWrite() time.Time {
	if t := r.lastOK.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

// Run writes info() now and every interval until ctx ends, then deletes
// the entry (revoking its lease) and returns nil. A lost lease is
// replaced by a new one on the next refresh.
func (r *registry) Run(ctx context.Context, info func() wire.NodeInfo) error {
	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		if err := r.runLease(ctx, info, ticker.C); err != nil && ctx.Err() == nil {
			r.log.Warn("registry entry lost; registering again", "err", err)
		}
		select { // a failed lease: try again on the next tick
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
	return nil
}

// runLease keeps the entry under one lease until the lease is lost (the
// error) or ctx ends (nil), then revokes the lease (deleting the entry).
// A write that fails while the lease lives is tried again on the next
// tick: the entry is the lease's, and a member slow to answer one write
// (an election, a slow disk) must not make the node delete its own
// entry, and vanish from the status, as revoking would.
func (r *registry) runLease(ctx context.Context, info func() wire.NodeInfo, tick <-chan time.Time) error {
	gctx, cancel := context.WithTimeout(ctx, r.interval) // a frozen member never answers
	grant, err := r.client.Grant(gctx, r.ttl)
	cancel()
	if err != nil {
		return fmt.Errorf("coordinator: registry lease: %w", err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = r.client.Revoke(rctx, grant.ID)
	}()
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := r.client.KeepAlive(kctx, grant.ID)
	if err != nil {
		return fmt.Errorf("coordinator: registry lease keepalive: %w", err)
	}
	lost := make(chan struct{})
	go func() {
		defer close(lost)
		for range ch { // drained until the lease or kctx ends
		}
	}()
	// A frozen or unreachable member fails every refresh: say so once,
	// and once more when a write gets through, not at every tick.
	var failed int
	var failingSince time.Time
	for {
		err := r.put(ctx, info(), grant.ID)
		switch {
		case err == nil:
			if failed > 0 {
				r.log.Info("registry entry refreshed again", "failed_writes", failed,
					"after", time.Since(failingSince).Round(time.Millisecond))
				failed = 0
			}
			now := time.Now()
			r.lastOK.Store(&now)
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			return err
		case ctx.Err() == nil:
			if failed == 0 {
				failingSince = time.Now()
				r.log.Warn("registry entry not refreshed; trying again every interval", "interval", r.interval, "err", err)
			} else {
				r.log.Debug("registry entry still not refreshed", "failed_writes", failed+1, "err", err)
			}
			failed++
		}
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			return fmt.Errorf("coordinator: registry lease %x not kept alive", grant.ID)
		case <-tick:
		}
	}
}

func (r *registry) put(ctx context.Context, n wire.NodeInfo, lease clientv3.LeaseID) error {
	n.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("coordinator: encode node info: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	if _, err := r.client.Put(rctx, r.key, string(b), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("coordinator: register node %s: %w", n.ID, err)
	}
	return nil
}

// readNodes reads every live member's registry entry. Entries that do
// not decode, or name no ValidNodeID, are skipped.
func readNodes(ctx context.Context, client *clientv3.Client, opts ...clientv3.OpOption) ([]wire.NodeInfo, error) {
	resp, err := client.Get(ctx, NodesPrefix, append(opts, clientv3.WithPrefix())...)
	if err != nil {
		return nil, fmt.Errorf("coordinator: read registry: %w", err)
	}
	nodes := make([]wire.NodeInfo, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var n wire.NodeInfo
		if err := json.Unmarshal(kv.Value, &n); err == nil && ValidNodeID(n.ID) {
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}
