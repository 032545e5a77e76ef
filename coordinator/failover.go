package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
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
// KeepAliveEvery. A partitioned old leader can still answer HTTP requests
// — hiding and revealing need no coordination — but it can never publish
// state again. Lease expiry stays as the fallback when no follower can
// probe (no registry entry, probes disabled).
//
// The revoke itself needs a raft quorum with a leader. If the dead node
// was also etcd's raft leader, the revoke waits for a raft election; the
// Publisher therefore moves raft leadership off the member of the node
// that leads the cluster (see moveRaftLeadership).

// FailureDetector is the follower side of fast failover.
type FailureDetector struct {
	client      *clientv3.Client
	elector     *Elector
	probe       Prober
	every       time.Duration
	suspectDown time.Duration
	suspectSlow time.Duration
	// OnRevoke, if set, is called after this node deposed a leader.
	OnRevoke func(leaderID string, silentFor time.Duration)
}

// NewFailureDetector probes every `every` and deposes a leader that has
// not answered for suspectDown once a probe proved it down
// (ErrNodeDown), or for suspectSlow whatever the probes said. The second
// bound is the longer because a leader that merely does not answer may
// only be slow: on a machine whose CPUs are saturated a live node's
// /healthz was seen to take 380 ms, and every false suspicion costs a
// needless change of leader.
func NewFailureDetector(client *clientv3.Client, e *Elector, probe Prober, every, suspectDown, suspectSlow time.Duration) *FailureDetector {
	return &FailureDetector{client: client, elector: e, probe: probe, every: every,
		suspectDown: suspectDown, suspectSlow: max(suspectSlow, suspectDown)}
}

// leaderTarget is the current leader as the detector sees it.
type leaderTarget struct {
	key   string
	lease clientv3.LeaseID
	rev   int64
	info  NodeInfo
}

// Run probes until ctx ends, then returns nil.
func (d *FailureDetector) Run(ctx context.Context) error {
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
		err := d.probe(pctx, target.info)
		cancel()
		if err == nil || errors.Is(err, errNoAddress) {
			lastOK, provenDown = time.Now(), false
			continue
		}
		provenDown = provenDown || errors.Is(err, ErrNodeDown)
		if silent := time.Since(lastOK); silent >= d.suspectSlow || provenDown && silent >= d.suspectDown {
			if d.depose(ctx, target) && d.OnRevoke != nil {
				d.OnRevoke(target.info.ID, silent)
			}
			target = nil
		}
	}
}

// currentLeader reads the oldest election key (the leader's) and the
// leader's registry entry, from this member's local copy: the fast,
// possibly stale read is checked again before acting.
func (d *FailureDetector) currentLeader(ctx context.Context) (*leaderTarget, error) {
	rctx, cancel := context.WithTimeout(ctx, d.suspectSlow)
	defer cancel()
	resp, err := d.client.Get(rctx, ElectionPrefix, append(clientv3.WithFirstCreate(), clientv3.WithSerializable())...)
	if err != nil || len(resp.Kvs) == 0 {
		return nil, err
	}
	kv := resp.Kvs[0]
	t := &leaderTarget{key: string(kv.Key), lease: clientv3.LeaseID(kv.Lease), rev: kv.CreateRevision, info: NodeInfo{ID: string(kv.Value)}}
	if node, err := d.client.Get(rctx, NodeKey(t.info.ID), clientv3.WithSerializable()); err == nil && len(node.Kvs) > 0 {
		_ = json.Unmarshal(node.Kvs[0].Value, &t.info)
	}
	return t, nil
}

// depose revokes the leader's lease if its key is still the one probed.
func (d *FailureDetector) depose(ctx context.Context, t *leaderTarget) bool {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := d.client.Get(rctx, t.key)
	if err != nil || len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != t.rev {
		return false // gone already, or a new term: nothing to do
	}
	_, err = d.client.Revoke(rctx, t.lease)
	return err == nil
}

// moveRaftLeadership hands etcd's raft leadership from this member to
// another member whose node is healthy in the published state, so that
// the death of the cluster's leader does not also cost a raft election
// before the fast path's revoke commits. Only live targets are tried: a
// transfer stalls every proposal until it completes or raft gives it up
// (an election timeout), and a member that is restarting loses the
// proposal that announces it to the cluster, which etcd retries only
// after its 5 s request timeout. The published state still calls a node
// that died a moment ago healthy, so, when probe is set, a node must
// also answer it.
func moveRaftLeadership(ctx context.Context, m *Member, state *ClusterState, probe Prober) error {
	if state == nil || m.RaftLeaderID() != m.ID() {
		return nil
	}
	self := strconv.FormatUint(m.ID(), 16)
	for _, n := range state.Nodes {
		if !n.Healthy || n.EtcdMemberID == "" || n.EtcdMemberID == self || time.Since(n.UpdatedAt) > 2*time.Second {
			continue
		}
		id, err := strconv.ParseUint(n.EtcdMemberID, 16, 64)
		if err != nil {
			continue
		}
		if probe != nil {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := probe(pctx, n.NodeInfo)
			cancel()
			if err != nil {
				continue
			}
		}
		if _, err := m.Client().MoveLeader(ctx, id); err != nil {
			return fmt.Errorf("coordinator: move raft leader to %s: %w", n.ID, err)
		}
		return nil
	}
	return nil // no healthy member to move to
}
