package wire

import "time"

// Node roles in ClusterState.
const (
	RoleLeader   = "Leader"
	RoleFollower = "Follower"
	RoleWorker   = "Worker" // a stateless node: no etcd member, never leads
)

// NodeMetrics are a node's live figures, refreshed in its registry entry
// about once a second. They are flattened into NodeInfo's JSON.
type NodeMetrics struct {
	CPUPct     float64 `json:"cpu_pct"`      // this process, % of one core
	MemPct     float64 `json:"mem_pct"`      // this process's RSS, % of host memory
	HostCPUPct float64 `json:"host_cpu_pct"` // whole host, % of all cores
	HostMemPct float64 `json:"host_mem_pct"` // whole host, % of memory in use
	RSSBytes   uint64  `json:"rss_bytes"`
	QPS1m      float64 `json:"qps_1m"` // requests per second over the last minute
	P95Ms      float64 `json:"p95_ms"` // 95th percentile latency over the last minute
	InFlight   int     `json:"in_flight"`
	QueueDepth int     `json:"queue_depth"`
}

// NodeInfo is a node's registry entry, written by the node itself under
// its own lease.
type NodeInfo struct {
	ID        string    `json:"id"`
	IP        string    `json:"ip"`
	HTTPPort  int       `json:"http_port"`
	RaftPort  int       `json:"raft_port"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Paused    bool      `json:"paused"`
	Worker    bool      `json:"worker,omitempty"` // a stateless worker, not an etcd member
	NodeMetrics
}

// NodeStatus is one node in the cluster state: its registry entry (if
// the node is alive) plus what the leader concluded about it.
type NodeStatus struct {
	NodeInfo
	Role         string   `json:"role"`
	Healthy      bool     `json:"healthy"`
	EtcdMemberID string   `json:"etcd_member_id"`      // hex, as etcdctl prints it; empty if not a member
	RaftLeader   bool     `json:"raft_leader"`         // this node's member leads etcd's raft
	PeerURLs     []string `json:"peer_urls,omitempty"` // the member's raft URLs, from etcd's member list
}

// ClusterState is what the leader publishes in etcd and every node
// serves as GET /cluster/status.
type ClusterState struct {
	Term       uint64       `json:"term"` // etcd's raft term
	LeaderID   string       `json:"leader_id"`
	Epoch      int64        `json:"epoch"` // the leader's election key create revision; only grows
	RaftLeader string       `json:"raft_leader"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Nodes      []NodeStatus `json:"nodes"`
	// Revision is the etcd revision of the write that stored this state,
	// and ServedBy the node that answered; both are set by readers and
	// not stored. Degraded, also set by the node that answered, says why
	// this state may be stale: a worker that reaches no etcd member
	// serves the last state it saw.
	Revision int64  `json:"revision"`
	ServedBy string `json:"served_by,omitempty"`
	Degraded string `json:"degraded,omitempty"`
}

// Node returns the node with the given id, or nil.
func (s *ClusterState) Node(id string) *NodeStatus {
	for i := range s.Nodes {
		if s.Nodes[i].ID == id {
			return &s.Nodes[i]
		}
	}
	return nil
}

// HealthyCount is the number of nodes the state calls healthy.
func (s *ClusterState) HealthyCount() int {
	n := 0
	for _, node := range s.Nodes {
		if node.Healthy {
			n++
		}
	}
	return n
}

// NodeProbe is what one GET /healthz of a node saw.
type NodeProbe struct {
	// Reachable: the node answered HTTP at all (a paused node answers,
	// with 503). False when the connection failed or timed out, or the
	// node has no registered address.
	Reachable bool      `json:"reachable"`
	Status    int       `json:"status,omitempty"` // the HTTP status of /healthz
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// LiveStatus is the data of one "status" event of GET /cluster/events:
// the /cluster/status body plus the serving node's latest probe of
// every node's /healthz, keyed by node id. The probes see a dead node
// within about half a second, well before its registry entry expires.
type LiveStatus struct {
	ClusterState
	Probes map[string]NodeProbe `json:"probes"`
}
