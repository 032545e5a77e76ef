package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/wire"
)

// clusterStatus is GET /cluster/status: the published state as this
// node follows it, with served_by set.
func (s *Server) clusterStatus(c *gin.Context) {
	st := s.cfg.Cluster.State()
	if st == nil {
		fail(c, errNoState)
		return
	}
	body, err := s.status.encode(s.servedState(st))
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// statusCache keeps the encoding of the last state served. With a
// thousand workers the state is 400 kB of JSON and changes a few times a
// second, while monitors may ask for it many times a second: each
// answer is then a copy, not an encoding.
type statusCache struct {
	mu   sync.Mutex
	last servedState
	body []byte
}

// encode returns the JSON of st, encoding it only if it differs from the
// last call's. Callers must not modify the result.
func (c *statusCache) encode(st servedState) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body == nil || c.last != st {
		body, err := json.Marshal(st.served())
		if err != nil {
			return nil, fmt.Errorf("api: encode the cluster state: %w", err)
		}
		c.last, c.body = st, body
	}
	return c.body, nil
}

// servedState is a state as this node serves it. It is comparable: the
// coordinator never modifies a state it handed out, so the pointer
// names the content.
type servedState struct {
	state    *wire.ClusterState
	servedBy string
	degraded string
}

func (s *Server) servedState(st *wire.ClusterState) servedState {
	return servedState{state: st, servedBy: s.cfg.NodeID, degraded: s.cfg.Cluster.Degraded()}
}

// served is a copy of the state with ServedBy and Degraded set, and
// Nodes never null.
func (s servedState) served() wire.ClusterState {
	out := *s.state
	out.ServedBy = s.servedBy
	out.Degraded = s.degraded
	if out.Nodes == nil {
		out.Nodes = []wire.NodeStatus{}
	}
	return out
}

// healthz: is this node serving? 503 while paused or draining, so the
// load balancer's checks take it out.
func (s *Server) healthz(c *gin.Context) {
	if err := s.serving(); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "serving", "node_id": s.cfg.NodeID, "leader": s.cfg.Cluster.Leadership().IsLeader})
}

// readyz: can this node's etcd client get a linearizable read (a
// member: it is part of a quorum; a worker: it reaches a member that
// is)? A worker that cannot is degraded but still serves stego work, so
// it answers 200 with status "degraded" and the reason: load balancers
// keep sending it work, and people see why.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	err := s.cfg.Cluster.Ready(ctx)
	switch {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"status": "ready", "node_id": s.cfg.NodeID})
	case errors.Is(err, coordinator.ErrDegraded):
		c.JSON(http.StatusOK, gin.H{"status": "degraded", "node_id": s.cfg.NodeID, "reason": err.Error()})
	default:
		fail(c, &apiError{http.StatusServiceUnavailable, codeNotReady, "etcd member not ready: " + err.Error(), nil})
	}
}

func (s *Server) adminFail(c *gin.Context) {
	var req struct {
		Action string `json:"action"`
	}
	if err := c.ShouldBindJSON(&req); err != nil {
		fail(c, badRequest(`want JSON {"action": "crash" | "pause"}`))
		return
	}
	switch req.Action {
	case "pause":
		s.cfg.Cluster.Pause()
		c.JSON(http.StatusOK, gin.H{"node_id": s.cfg.NodeID, "status": "paused"})
	case "crash":
		c.JSON(http.StatusOK, gin.H{"node_id": s.cfg.NodeID, "status": "crashing"})
		c.Writer.Flush()
		s.cfg.Cluster.CrashSoon() // after a moment, so that this answer leaves first
	default:
		fail(c, badRequest(`action must be "crash" or "pause"`))
	}
}

func (s *Server) adminRestore(c *gin.Context) {
	s.cfg.Cluster.Resume()
	c.JSON(http.StatusOK, gin.H{"node_id": s.cfg.NodeID, "status": "serving"})
}
