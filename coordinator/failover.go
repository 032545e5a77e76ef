package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// Fast failover.
//
// Lease expiry alone makes a dead leader's successor wait 1–2 s: TTLs are
// whole seconds, the server checks expiry every 500 ms, and a new raft
// leader extends every lease. So every follower also probes the leader
// directly, every ProbeEvery, and when the leader has not answered for
// SuspectAfter it revokes the leader's election lease. Revoking deletes
// the key, the oldest waiting candidate's Campaign returns, and it
// publishes at once.
//
// Why this is safe: the revoke is an ordinary etcd request, so it only
// succeeds through a member that is part of a quorum. A leader that was
// wrongly suspected (slow, or cut off from one follower only) loses its
// key; its next fenced write fails (ErrFenced) because its key's create
// revision no longer exists, and its 50 ms keepalive finds the lease gone
// and makes it step down, so it stops believing it leads within one
// KeepAliveEvery while it can reach etcd, and within the lease's local
// expiry when it cannot (lease.go). A partitioned old leader can still answer HTTP requests
// — hiding and revealing need no coordination — but it can never publish
// state again. Lease expiry stays as the fallback when no follower can
// probe (the leader has no registry entry).
//
// The revoke itself needs a raft quorum with a leader. If the dead node
// was also etcd's raft leader, the revoke waits for a raft election; the
// publisher therefore moves raft leadership off the member of the node
// that leads the cluster (see moveRaftLeadership).

// failureDetector is the follower side of fast failover.
type failureDetector struct {
	client      *clientv3.Client
	elector     *elector
	prober      *prober
	log         *slog.Logger
	every       time.Duration
	suspectDown time.Duration
	suspectSlow time.Duration
}

// newFailureDetector probes every `every` and deposes a leader that has
// not answered for suspectDown once a probe proved it down
// (ErrNodeDown), or for suspectSlow whatever the probes said. The second
// bound is the longer because a leader that merely does not answer may
// only be slow: on a machine whose CPUs are saturated a live node's
// /healthz was seen to take 380 ms, and every false suspicion costs a
// needless change of leader.
func newFailureDetector(client *clientv3.Client, e *elector, p *prober, log *slog.Logger, every, suspectDown, suspectSlow time.Duration) *failureDetector {
	return &failureDetector{client: client, elector: e, prober: p, log: log, every: every,
		suspectDown: suspectDown, suspectSlow: max(suspectSlow, suspectDown)}
}

// leaderTarget is the current leader as the detector sees it.
type leaderTarget struct {
	key   string
	lease clientv3.LeaseID
	rev   int64
	info  wire.NodeInfo
}

// Run probes until ctx ends, then returns nil.
func (d *failureDetector) Run(ctx context.Context) error {
	ticker := time.NewTicker(d.every)
	defer ticker.Stop()
	var target *leaderTarget
	var lastOK, lastRefresh time.Time
	var provenDown bool // a probe since lastOK said ErrNodeDown
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if d.elector.Leadership().IsLeader || d.elector.Paused() {
			target = nil
			continue
		}
		if target == nil || time.Since(lastRefresh) > 500*time.Millisecond {
			t, err := d.currentLeader(ctx)
			lastRefresh = time.Now()
			if err != nil || t == nil {
				if err != nil && ctx.Err() == nil {
					d.log.Debug("failure detector: reading the leader", "err", err)
				}
				target = nil
				continue
			}
			if target == nil || t.key != target.key || t.rev != target.rev {
				lastOK, provenDown = time.Now(), false // a new leader starts with a clean slate
			}
			target = t
		}
		// A slow answer is still an answer: a probe may take until the
		// leader would be suspected anyway.
		pctx, cancel := context.WithTimeout(ctx, d.suspectSlow)
		err := d.prober.Probe(pctx, target.info)
		cancel()
		if err == nil || errors.Is(err, errNoAddress) {
			lastOK, provenDown = time.Now(), false
			continue
		}
		provenDown = provenDown || errors.Is(err, ErrNodeDown)
		if silent := time.Since(lastOK); silent >= d.suspectSlow || provenDown && silent >= d.suspectDown {
			deposed, err := d.depose(ctx, target)
			switch {
			case err != nil:
				d.log.Warn("failure detector: deposing a silent leader failed", "leader", target.info.ID, "silent", silent, "err", err)
			case deposed:
				d.log.Warn("deposed a silent leader (revoked its election lease)", "leader", target.info.ID,
					"epoch", target.rev, "silent", silent, "proven_down", provenDown)
			}
			target = nil
		}
	}
}

// currentLeader reads the oldest election key (the leader's) and the
// leader's registry entry, from this member's local copy: the fast,
// possibly stale read is checked again before acting.
func (d *failureDetector) currentLeader(ctx context.Context) (*leaderTarget, error) {
	rctx, cancel := context.WithTimeout(ctx, d.suspectSlow)
	defer cancel()
	resp, err := d.client.Get(rctx, ElectionPrefix, append(clientv3.WithFirstCreate(), clientv3.WithSerializable())...)
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	kv := resp.Kvs[0]
	t := &leaderTarget{key: string(kv.Key), lease: clientv3.LeaseID(kv.Lease), rev: kv.CreateRevision, info: wire.NodeInfo{ID: string(kv.Value)}}
	node, err := d.client.Get(rctx, NodeKey(t.info.ID), clientv3.WithSerializable())
	if err != nil {
		return nil, fmt.Errorf("coordinator: read registry entry of leader %s: %w", t.info.ID, err)
	}
	if len(node.Kvs) > 0 {
		if err := json.Unmarshal(node.Kvs[0].Value, &t.info); err != nil {
			return nil, fmt.Errorf("coordinator: decode registry entry of leader %s: %w", t.info.ID, err)
		}
	}
	return t, nil
}

// depose revokes the leader's election lease and reports whether it
// did: false, with no error, when the lease is already gone.
//
// It revokes without first re-reading the leader's key: that read would
// cost a raft round trip, on the path a failover waits on, and guard
// nothing. A lease revoke cannot be made conditional, but it needs no
// condition: every term grants a fresh lease (elector.term), so
// revoking t.lease can only end the very term that was probed, never a
// successor's. If that term already ended (the leader resigned, or
// another follower deposed it), the lease is gone and etcd answers
// "lease not found".
func (d *failureDetector) depose(ctx context.Context, t *leaderTarget) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := d.client.Revoke(rctx, t.lease); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("coordinator: revoke lease %x of leader %s: %w", t.lease, t.info.ID, err)
	}
	return true, nil
}

// moveRaftLeadership hands etcd's raft leadership from this member to
// another member whose node is healthy in the published state, so that
// the death of the cluster's leader does not also cost a raft election
// before the fast path's revoke commits. Only live targets are tried: a
// transfer stalls every proposal until it completes or raft gives it up
// (an election timeout), and a member that is restarting loses the
// proposal that announces it to the cluster, which etcd retries only
// after its 5 s request timeout. The published state still calls a node
// that died a moment ago healthy, so a node must also answer a probe.
func moveRaftLeadership(ctx context.Context, m *member, state *wire.ClusterState, p *prober) error {
	if state == nil || m.RaftLeaderID() != m.ID() {
		return nil
	}
	self := strconv.FormatUint(m.ID(), 16)
	for _, n := range state.Nodes {
		// Not judged by n.UpdatedAt: that is the node's own clock, and
		// hosts a second or two apart would rule out every member. Its
		// registry lease (2 s) and the probe below say it is alive.
		if !n.Healthy || n.EtcdMemberID == "" || n.EtcdMemberID == self {
			continue
		}
		id, err := strconv.ParseUint(n.EtcdMemberID, 16, 64)
		if err != nil {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err = p.Probe(pctx, n.NodeInfo)
		cancel()
		if err != nil {
			continue
		}
		if _, err := m.Client().MoveLeader(ctx, id); err != nil {
			return fmt.Errorf("coordinator: move raft leader to %s: %w", n.ID, err)
		}
		return nil
	}
	return nil // no healthy member to move to
}
