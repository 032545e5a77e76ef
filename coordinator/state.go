package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// publisher writes the cluster state while this node leads.
// It publishes at least every interval and whenever the registry
// changes.
type publisher struct {
	member   *member
	elector  *elector
	prober   *prober // checks a member's node before raft leadership moves to it
	log      *slog.Logger
	nodeID   string
	interval time.Duration
	kick     chan struct{}
}

func newPublisher(m *member, e *elector, p *prober, log *slog.Logger, nodeID string, interval time.Duration) *publisher {
	return &publisher{member: m, elector: e, prober: p, log: log, nodeID: nodeID, interval: interval, kick: make(chan struct{}, 1)}
}

// Kick asks for a publication now (e.g. just after winning the
// election) instead of at the next tick. It never blocks.
func (p *publisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run publishes while this node is leader, until ctx ends (then it
// returns nil). Failed writes are retried on the next tick; a fenced
// write means leadership was lost and the elector will notice.
func (p *publisher) Run(ctx context.Context) error {
	client := p.member.Client()
	watchNodes := func() clientv3.WatchChan {
		return client.Watch(clientv3.WithRequireLeader(ctx), NodesPrefix, clientv3.WithPrefix(), clientv3.WithPrevKV())
	}
	watch := watchNodes()
	var rewatch <-chan time.Time // armed while watch is nil
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	publish := true
	for {
		if publish && p.elector.Leadership().IsLeader {
			p.publishAndMove(ctx)
		}
		publish = true
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-p.kick:
		case <-rewatch:
			watch, rewatch = watchNodes(), nil
		case resp, ok := <-watch:
			if !ok {
				// A watch that requires a leader ends at once while the
				// member has none (cut off on a partition's minority
				// side): opening the next at once spun a CPU. The pause
				// does not hold up the loop: ticks and kicks still
				// publish meanwhile.
				watch, rewatch = nil, time.After(rewatchPause)
				continue
			}
			// Every live entry refreshes its figures each second: the
			// next tick publishes those. Publishing on each would rewrite
			// the whole state once per node per second.
			publish = registryChanged(resp.Events)
		}
	}
}

// registryChanged reports whether events change what the state says
// about the nodes beyond their live figures: a node joins or leaves (a
// new key, or a deleted or expired one), pauses or resumes, or moves.
func registryChanged(events []*clientv3.Event) bool {
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete || ev.IsCreate() || ev.PrevKv == nil {
			return true
		}
		var before, after wire.NodeInfo
		if json.Unmarshal(ev.PrevKv.Value, &before) != nil || json.Unmarshal(ev.Kv.Value, &after) != nil {
			return true
		}
		if before.Paused != after.Paused || before.IP != after.IP || before.HTTPPort != after.HTTPPort {
			return true
		}
	}
	return false
}

// publishAndMove publishes the state and then keeps etcd's raft
// leadership on another member (failover.go). Failures are logged: the
// next tick tries again, and a fenced write means leadership was lost,
// which the elector notices by itself.
func (p *publisher) publishAndMove(ctx context.Context) {
	state, err := p.publish(ctx)
	switch {
	case errors.Is(err, ErrNotLeader):
		return
	case errors.Is(err, ErrFenced):
		p.log.Warn("publishing the cluster state was fenced off: leadership lost", "err", err)
		return
	case err != nil:
		if ctx.Err() == nil {
			p.log.Warn("publishing the cluster state failed; retrying on the next tick", "err", err)
		}
		return
	}
	mctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()
	if err := moveRaftLeadership(mctx, p.member, state, p.prober); err != nil && ctx.Err() == nil {
		p.log.Warn("moving raft leadership off this member failed", "err", err)
	}
}

// publish builds the state from the registry and etcd's member list and
// writes it fenced. It returns ErrNotLeader or ErrFenced when this node
// may not write.
func (p *publisher) publish(ctx context.Context) (*wire.ClusterState, error) {
	l := p.elector.Leadership()
	if !l.IsLeader {
		return nil, ErrNotLeader
	}
	state, err := p.build(ctx, l)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(state)
	if err != nil {
		return nil, fmt.Errorf("coordinator: encode state: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()
	if err := p.elector.FencedTxn(wctx, l, nil, clientv3.OpPut(StateKey, string(b))); err != nil {
		return nil, err
	}
	return state, nil
}

func (p *publisher) build(ctx context.Context, l Leadership) (*wire.ClusterState, error) {
	client := p.member.Client()
	rctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()
	// Serializable reads, from this node's own member: a new leader
	// publishes right after winning, and each linearizable read would
	// first wait for a round to raft's leader, on CPUs that are busiest
	// just then. A member list or registry a few milliseconds stale is
	// harmless: the write is fenced, and the next publication, at most a
	// second later, corrects it.
	members, err := client.MemberList(rctx, clientv3.WithSerializable())
	if err != nil {
		return nil, fmt.Errorf("coordinator: member list: %w", err)
	}
	nodes, err := readNodes(rctx, client, clientv3.WithSerializable())
	if err != nil {
		return nil, err
	}
	byID := make(map[string]wire.NodeInfo, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	raftLeader := p.member.RaftLeaderID()
	state := &wire.ClusterState{
		LeaderID:  p.nodeID,
		Epoch:     l.Epoch,
		Term:      p.member.RaftTerm(),
		UpdatedAt: time.Now().UTC(),
	}
	seen := map[string]bool{}
	for _, m := range members.Members {
		name := m.Name
		if name == "" {
			continue // added but not started yet
		}
		seen[name] = true
		info, alive := byID[name]
		if !alive {
			info = wire.NodeInfo{ID: name}
			if len(m.PeerURLs) > 0 {
				info.IP, info.RaftPort = hostPort(m.PeerURLs[0])
			}
		}
		s := wire.NodeStatus{
			NodeInfo:     info,
			Role:         wire.RoleFollower,
			Healthy:      alive && !info.Paused,
			EtcdMemberID: strconv.FormatUint(m.ID, 16),
			RaftLeader:   m.ID == raftLeader,
			PeerURLs:     m.PeerURLs,
		}
		if name == p.nodeID {
			s.Role = wire.RoleLeader
		}
		if s.RaftLeader {
			state.RaftLeader = name
		}
		state.Nodes = append(state.Nodes, s)
	}
	for _, n := range nodes { // members not (yet) in the member list
		if !seen[n.ID] {
			state.Nodes = append(state.Nodes, wire.NodeStatus{NodeInfo: n, Role: wire.RoleFollower, Healthy: !n.Paused})
		}
	}
	sort.Slice(state.Nodes, func(i, j int) bool { return state.Nodes[i].ID < state.Nodes[j].ID })
	return state, nil
}

func hostPort(raw string) (string, int) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// errNoState is returned by readState before any leader has published.
var errNoState = errors.New("coordinator: no cluster state published yet")

// readState reads the published state, and the store's revision at the
// read: a watch from the next one misses nothing and, unlike one from
// the state's own revision, is not refused as compacted when no leader
// has published for longer than the compaction interval.
func readState(ctx context.Context, client *clientv3.Client) (*wire.ClusterState, int64, error) {
	resp, err := client.Get(ctx, StateKey)
	if err != nil {
		return nil, 0, fmt.Errorf("coordinator: read state: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, resp.Header.Revision, errNoState
	}
	s, err := decodeState(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
	return s, resp.Header.Revision, err
}

func decodeState(b []byte, rev int64) (*wire.ClusterState, error) {
	var s wire.ClusterState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("coordinator: decode state: %w", err)
	}
	s.Revision = rev
	return &s, nil
}
