package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/coordinator"
)

// LiveStatus is the data of one "status" event of GET /cluster/events:
// the GET /cluster/status body, plus what the serving node's own probes
// of every node's /healthz saw (keyed by node id). The probes see a dead
// node within about half a second, well before its registry entry
// expires, so a client can mark it down at once.
type LiveStatus struct {
	ClusterStatus
	Probes map[string]NodeProbe `json:"probes"`
}

// eventTiming paces a stream: how often the state and the drain flag are
// checked, and the longest gap between two status events (which also
// serve as the heartbeat).
type eventTiming struct {
	check, every time.Duration
	probe        probeTiming
}

func defaultEventTiming() eventTiming {
	return eventTiming{check: 250 * time.Millisecond, every: time.Second, probe: defaultProbeTiming()}
}

// stateSubscriber is implemented by clusters that can push state
// changes (the real node does, through its state watcher); others are
// checked every eventTiming.check.
type stateSubscriber interface {
	Subscribe() (<-chan *coordinator.ClusterState, func())
}

// Subscribe follows the node's state watcher.
func (c nodeCluster) Subscribe() (<-chan *coordinator.ClusterState, func()) {
	return c.n.Watcher.Subscribe()
}

// clusterEvents is GET /cluster/events, a Server-Sent Events stream:
// a "status" event (data: LiveStatus JSON, id: the state's etcd
// revision) whenever the watched state or a probe result changes and at
// least every second; before any state exists, a ": heartbeat" comment
// every second instead. The stream ends when the client goes away or the
// node starts draining (the client's EventSource then reconnects, through
// nginx to another node). A draining node refuses new streams with 503.
func (s *Server) clusterEvents(c *gin.Context) {
	s.streamEvents(c, defaultEventTiming())
}

func (s *Server) streamEvents(c *gin.Context, timing eventTiming) {
	if s.draining.Load() {
		fail(c, &apiError{http.StatusServiceUnavailable, codeDraining, "node shutting down", nil})
		return
	}
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()

	var changes <-chan *coordinator.ClusterState
	if sub, ok := s.cfg.Cluster.(stateSubscriber); ok {
		ch, unsubscribe := sub.Subscribe()
		defer unsubscribe()
		changes = ch
	}
	probes := make(chan map[string]NodeProbe, 1)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		runProbes(ctx, timing.probe, s.probeTargets, probes)
	}()
	defer func() { cancel(); <-probed }()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	c.Status(http.StatusOK)
	w := &eventWriter{c: c}
	w.printf("retry: 500\n\n")

	ticker := time.NewTicker(timing.check)
	defer ticker.Stop()
	var (
		last     time.Time
		lastRev  int64 = -1
		lastSeen map[string]NodeProbe
	)
	send := func() {
		st := s.cfg.Cluster.State()
		if st == nil {
			w.printf(": heartbeat %s (no cluster state yet)\n\n", time.Now().UTC().Format(time.RFC3339))
		} else {
			w.event("status", st.Revision, LiveStatus{ClusterStatus: s.statusOf(st), Probes: lastSeen})
			lastRev = st.Revision
		}
		last = time.Now()
	}
	send()
	for w.err == nil {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			send()
		case p := <-probes:
			changed := !sameReachability(lastSeen, p)
			lastSeen = p
			if changed {
				send()
			}
		case <-ticker.C:
			if s.draining.Load() {
				return
			}
			st := s.cfg.Cluster.State()
			if (st != nil && st.Revision != lastRev) || time.Since(last) >= timing.every {
				send()
			}
		}
	}
}

// statusOf is the /cluster/status body for a state.
func (s *Server) statusOf(st *coordinator.ClusterState) ClusterStatus {
	out := ClusterStatus{Term: st.Term, LeaderID: st.LeaderID, Epoch: st.Epoch, RaftLeader: st.RaftLeader,
		UpdatedAt: st.UpdatedAt, Revision: st.Revision, ServedBy: s.cfg.NodeID, Nodes: []NodeStatus{}}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, flatten(n))
	}
	return out
}

// probeTargets lists the nodes of the current state with an address.
func (s *Server) probeTargets() []probeTarget {
	st := s.cfg.Cluster.State()
	if st == nil {
		return nil
	}
	out := make([]probeTarget, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		out = append(out, probeTarget{ID: n.ID, IP: n.IP, Port: n.HTTPPort})
	}
	return out
}

// sameReachability reports whether two probe rounds agree on every
// node's reachability and status (times may differ).
func sameReachability(a, b map[string]NodeProbe) bool {
	if len(a) != len(b) {
		return false
	}
	for id, p := range a {
		q, ok := b[id]
		if !ok || p.Reachable != q.Reachable || p.Status != q.Status {
			return false
		}
	}
	return true
}

// eventWriter writes SSE frames and remembers the first write error
// (the client went away); later writes are skipped.
type eventWriter struct {
	c   *gin.Context
	err error
}

func (w *eventWriter) printf(format string, args ...any) {
	if w.err != nil {
		return
	}
	if _, w.err = fmt.Fprintf(w.c.Writer, format, args...); w.err == nil {
		w.c.Writer.Flush()
	}
}

func (w *eventWriter) event(name string, id int64, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		w.err = fmt.Errorf("api: encoding %s event: %w", name, err)
		return
	}
	w.printf("event: %s\nid: %d\ndata: %s\n\n", name, id, b)
}
