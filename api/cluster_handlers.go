package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/coordinator"
)

// NodeStatus is one node in the GET /cluster/status response: the
// original system's flat fields first, then ours. Clients (stegoctl, the
// web app) decode into these types.
type NodeStatus struct {
	ID           string    `json:"id"`
	IP           string    `json:"ip"`
	HTTPPort     int       `json:"http_port"`
	RaftPort     int       `json:"raft_port"`
	Role         string    `json:"role"`
	Healthy      bool      `json:"healthy"`
	CPUPct       float64   `json:"cpu_pct"`
	MemPct       float64   `json:"mem_pct"`
	QPS1m        float64   `json:"qps_1m"`
	P95Ms        float64   `json:"p95_ms"`
	InFlight     int       `json:"in_flight"`
	QueueDepth   int       `json:"queue_depth"`
	HostCPUPct   float64   `json:"host_cpu_pct"`
	HostMemPct   float64   `json:"host_mem_pct"`
	RSSBytes     uint64    `json:"rss_bytes"`
	Paused       bool      `json:"paused"`
	Version      string    `json:"version"`
	StartedAt    time.Time `json:"started_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	EtcdMemberID string    `json:"etcd_member_id"`
	RaftLeader   bool      `json:"raft_leader"`
}

// ClusterStatus is the GET /cluster/status response.
type ClusterStatus struct {
	Term       uint64       `json:"term"`
	LeaderID   string       `json:"leader_id"`
	Epoch      int64        `json:"epoch"`
	RaftLeader string       `json:"raft_leader"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Revision   int64        `json:"revision"`
	ServedBy   string       `json:"served_by"`
	Nodes      []NodeStatus `json:"nodes"`
}

func (s *Server) clusterStatus(c *gin.Context) {
	st := s.cfg.Cluster.State()
	if st == nil {
		fail(c, &apiError{http.StatusServiceUnavailable, "no_state", "no cluster state published yet (electing a leader?)", nil})
		return
	}
	out := ClusterStatus{Term: st.Term, LeaderID: st.LeaderID, Epoch: st.Epoch, RaftLeader: st.RaftLeader,
		UpdatedAt: st.UpdatedAt, Revision: st.Revision, ServedBy: s.cfg.NodeID, Nodes: []NodeStatus{}}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, flatten(n))
	}
	c.JSON(http.StatusOK, out)
}

func flatten(n coordinator.NodeStatus) NodeStatus {
	m := n.Metrics
	return NodeStatus{ID: n.ID, IP: n.IP, HTTPPort: n.HTTPPort, RaftPort: n.RaftPort, Role: n.Role, Healthy: n.Healthy,
		CPUPct: m.CPUPct, MemPct: m.MemPct, QPS1m: m.QPS1m, P95Ms: m.P95Ms, InFlight: m.InFlight, QueueDepth: m.QueueDepth,
		HostCPUPct: m.HostCPUPct, HostMemPct: m.HostMemPct, RSSBytes: m.RSSBytes, Paused: n.Paused, Version: n.Version,
		StartedAt: n.StartedAt, UpdatedAt: n.UpdatedAt, EtcdMemberID: n.EtcdMemberID, RaftLeader: n.RaftLeader}
}

// healthz: is this node serving? 503 while paused or draining, so the
// load balancer's checks take it out.
func (s *Server) healthz(c *gin.Context) {
	switch {
	case s.draining.Load():
		fail(c, &apiError{http.StatusServiceUnavailable, codeDraining, "node shutting down", nil})
	case s.cfg.Pool.Faults().Paused():
		fail(c, &apiError{http.StatusServiceUnavailable, codePaused, "node paused by fault injection", nil})
	default:
		c.JSON(http.StatusOK, gin.H{"status": "serving", "node_id": s.cfg.NodeID, "leader": s.cfg.Cluster.Leadership().IsLeader})
	}
}

// readyz: can this node's etcd member serve a linearizable read (it is
// part of a quorum)?
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Cluster.Ready(ctx); err != nil {
		fail(c, &apiError{http.StatusServiceUnavailable, "not_ready", "etcd member not ready: " + err.Error(), nil})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "node_id": s.cfg.NodeID})
}

func (s *Server) adminFail(c *gin.Context) {
	var req struct {
		Action string `json:"action"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		fail(c, badRequest(`want JSON {"action": "crash" | "pause"}`))
		return
	}
	faults := s.cfg.Pool.Faults()
	switch req.Action {
	case "pause":
		faults.Pause()
		c.JSON(http.StatusOK, gin.H{"node_id": s.cfg.NodeID, "status": "paused"})
	case "crash":
		c.JSON(http.StatusOK, gin.H{"node_id": s.cfg.NodeID, "status": "crashing"})
		c.Writer.Flush()
		// Let the response leave before the process ends.
		time.AfterFunc(50*time.Millisecond, faults.Crash)
	default:
		fail(c, badRequest(`action must be "crash" or "pause"`))
	}
}

func (s *Server) adminRestore(c *gin.Context) {
	s.cfg.Pool.Faults().Resume()
	c.JSON(http.StatusOK, gin.H{"node_id": s.cfg.NodeID, "status": "serving"})
}
