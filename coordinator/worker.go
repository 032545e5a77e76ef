package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrDegraded wraps the error of a worker's Ready while it reaches no
// etcd member: it still serves stego work (which needs no coordination)
// from its last known cluster state, but cannot register changes or see
// new states.
var ErrDegraded = errors.New("coordinator: degraded")

// startWorker connects a worker to the members at cfg.Endpoints and runs
// its loops. It does not wait for a member: a worker is useful without
// one, and its registry entry appears once one answers. The client fails
// over between the endpoints by itself; keepalive pings find a member
// that froze or was cut off, not only one that closed its connection.
func (n *Node) startWorker(ctx context.Context) error {
	if len(n.cfg.Endpoints) == 0 {
		return errors.New("coordinator: a worker needs the members' client URLs (Endpoints)")
	}
	if err := checkSchemes(n.cfg.Member.TLS.Enabled(), n.cfg.Endpoints...); err != nil {
		return fmt.Errorf("coordinator: worker endpoints: %w", err)
	}
	client, err := newClient(n.cfg.Endpoints, n.cfg.Member.TLS)
	if err != nil {
		return err
	}
	n.client = client
	n.watcher = &stateWatcher{client: client, log: n.log}
	n.registry = &registry{client: client, key: WorkerKey(n.ID()), log: n.log, ttl: int64(n.cfg.WorkerRegistryTTL), interval: n.cfg.WorkerRegistryEvery}
	n.workers = newWorkerList(client, n.log, false, n.cfg.RegistryEvery, func() bool { return n.status.subscribers() > 0 })
	n.run(ctx, nil)
	n.log.Info("worker started", "endpoints", n.cfg.Endpoints)
	return nil
}

// degradedAfter is how long a worker goes without refreshing its
// registry entry before it calls itself degraded: its lease's TTL, after
// which its entry may be gone.
func (n *Node) degradedAfter() time.Duration {
	return time.Duration(n.cfg.WorkerRegistryTTL) * time.Second
}

// Degraded says why this node serves without coordination, or "" if it
// does not: a worker whose registry entry has not been refreshed for
// degradedAfter (no member reached). A member never is: without a
// quorum it is not ready at all.
func (n *Node) Degraded() string {
	if n.member != nil {
		return ""
	}
	last := n.registry.lastWrite()
	if last.IsZero() {
		last = n.started
	}
	if since := time.Since(last); since > n.degradedAfter() {
		return fmt.Sprintf("no etcd member reached for %s: serving stego work on the last known cluster state", since.Round(time.Second))
	}
	return ""
}
