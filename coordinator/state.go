package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Node roles in the published state.
const (
	RoleLeader   = "Leader"
	RoleFollower = "Follower"
)

// NodeStatus is one node in the published state: the registry entry (if
// the node is alive) plus what the leader concluded about it.
type NodeStatus struct {
	NodeInfo
	Role         string `json:"role"`
	Healthy      bool   `json:"healthy"`
	EtcdMemberID string `json:"etcd_member_id"`
	RaftLeader   bool   `json:"raft_leader"` // this node's member leads etcd's raft
}

// ClusterState is what the leader publishes at StateKey.
type ClusterState struct {
	LeaderID   string       `json:"leader_id"`
	Epoch      int64        `json:"epoch"` // the leader's election key create revision
	Term       uint64       `json:"term"`  // etcd's raft term
	RaftLeader string       `json:"raft_leader"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Nodes      []NodeStatus `json:"nodes"`
	// Revision is the etcd revision of the write; set by readers, not
	// stored.
	Revision int64 `json:"revision"`
}

// Publisher writes the cluster state while this node leads.
type Publisher struct {
	member   *Member
	elector  *Elector
	nodeID   string
	interval time.Duration
	kick     chan struct{}
	// Probe, if set, checks a member's node before raft leadership is
	// moved to it (see moveRaftLeadership).
	Probe Prober
}

// NewPublisher publishes at least every interval and whenever the
// registry changes.
func NewPublisher(m *Member, e *Elector, nodeID string, interval time.Duration) *Publisher {
	return &Publisher{member: m, elector: e, nodeID: nodeID, interval: interval, kick: make(chan struct{}, 1)}
}

// Kick asks for a publication now (e.g. just after winning the
// election) instead of at the next tick. It never blocks.
func (p *Publisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run publishes while this node is leader, until ctx ends (then it
// returns nil). Failed writes are retried on the next tick; a fenced
// write means leadership was lost and the elector will notice.
func (p *Publisher) Run(ctx context.Context) error {
	client := p.member.Client()
	watch := client.Watch(clientv3.WithRequireLeader(ctx), NodesPrefix, clientv3.WithPrefix())
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for {
		if p.elector.Leadership().IsLeader {
			if state, err := p.publish(ctx); err == nil {
				// Keep etcd's raft leadership on another member (failover.go).
				mctx, cancel := context.WithTimeout(ctx, p.interval)
				_ = moveRaftLeadership(mctx, p.member, state, p.Probe)
				cancel()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-p.kick:
		case _, ok := <-watch:
			if !ok {
				watch = client.Watch(clientv3.WithRequireLeader(ctx), NodesPrefix, clientv3.WithPrefix())
			}
		}
	}
}

// PublishOnce builds the state from the registry and etcd's member list
// and writes it fenced. It returns ErrNotLeader or ErrFenced when this
// node may not write.
func (p *Publisher) PublishOnce(ctx context.Context) error {
	_, err := p.publish(ctx)
	return err
}

func (p *Publisher) publish(ctx context.Context) (*ClusterState, error) {
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
	return state, p.elector.FencedPut(wctx, StateKey, string(b))
}

func (p *Publisher) build(ctx context.Context, l Leadership) (*ClusterState, error) {
	client := p.member.Client()
	rctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()
	members, err := client.MemberList(rctx)
	if err != nil {
		return nil, fmt.Errorf("coordinator: member list: %w", err)
	}
	nodes, err := Nodes(rctx, client)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]NodeInfo, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	raftLeader := p.member.RaftLeaderID()
	state := &ClusterState{
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
			info = NodeInfo{ID: name}
			if len(m.PeerURLs) > 0 {
				info.IP, info.RaftPort = hostPort(m.PeerURLs[0])
			}
		}
		s := NodeStatus{
			NodeInfo:     info,
			Role:         RoleFollower,
			Healthy:      alive && !info.Paused,
			EtcdMemberID: strconv.FormatUint(m.ID, 16),
			RaftLeader:   m.ID == raftLeader,
		}
		if name == p.nodeID {
			s.Role = RoleLeader
		}
		if s.RaftLeader {
			state.RaftLeader = name
		}
		state.Nodes = append(state.Nodes, s)
	}
	for _, n := range nodes { // registered but not (yet) in the member list
		if !seen[n.ID] {
			state.Nodes = append(state.Nodes, NodeStatus{NodeInfo: n, Role: RoleFollower, Healthy: !n.Paused})
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

// ErrNoState is returned by ReadState before any leader has published.
var ErrNoState = errors.New("coordinator: no cluster state published yet")

// ReadState reads the published state.
func ReadState(ctx context.Context, client *clientv3.Client) (*ClusterState, error) {
	resp, err := client.Get(ctx, StateKey)
	if err != nil {
		return nil, fmt.Errorf("coordinator: read state: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNoState
	}
	return decodeState(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

func decodeState(b []byte, rev int64) (*ClusterState, error) {
	var s ClusterState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("coordinator: decode state: %w", err)
	}
	s.Revision = rev
	return &s, nil
}
