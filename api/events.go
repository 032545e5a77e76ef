package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/wire"
)

// eventTiming paces a stream: how often the drain flag and the heartbeat
// are checked, and the longest gap between two status events (which also
// serve as the heartbeat).
type eventTiming struct {
	check, every time.Duration
}

func defaultEventTiming() eventTiming {
	return eventTiming{check: 250 * time.Millisecond, every: time.Second}
}

// clusterEvents is GET /cluster/events, a Server-Sent Events stream:
// a "status" event (data: wire.LiveStatus JSON, id: the state's etcd
// revision) whenever the watched state or a probe result changes and at
// least every second; before any state exists, a ": heartbeat" comment
// every second instead. The stream ends when the client goes away or the
// node starts draining (the client's EventSource then reconnects, through
// nginx to another node). A draining node refuses new streams with 503,
// and so does a node with Config.MaxEventStreams open (Retry-After 5:
// the slots are held by clients that stay).
// The probes are the node's own (Cluster.SubscribeProbes): every stream
// shares them, so streams cost no probes of their own.
func (s *Server) clusterEvents(c *gin.Context) {
	s.streamEvents(c, defaultEventTiming())
}

func (s *Server) streamEvents(c *gin.Context, timing eventTiming) {
	if s.draining.Load() {
		fail(c, errDraining)
		return
	}
	select {
	case s.streamSlots <- struct{}{}:
		defer func() { <-s.streamSlots }()
	default:
		c.Header("Retry-After", "5")
		fail(c, errTooManyStreams)
		return
	}
	ctx := c.Request.Context()
	changes, unsubscribe := s.cfg.Cluster.Subscribe()
	defer unsubscribe()
	probes, unsubscribeProbes := s.cfg.Cluster.SubscribeProbes()
	defer unsubscribeProbes()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	c.Status(http.StatusOK)
	w := &eventWriter{w: c.Writer, rc: http.NewResponseController(c.Writer), idle: s.cfg.BodyIdleTimeout}
	defer func() { _ = w.rc.SetWriteDeadline(time.Time{}) }() // the connection may serve another request
	w.printf("retry: 500\n\n")

	ticker := time.NewTicker(timing.check)
	defer ticker.Stop()
	var (
		last     time.Time
		lastSeen map[string]wire.NodeProbe
	)
	send := func() {
		st := s.cfg.Cluster.State()
		if st == nil {
			w.printf(": heartbeat %s (no cluster state yet)\n\n", time.Now().UTC().Format(time.RFC3339))
		} else {
			w.event("status", st.Revision, wire.LiveStatus{ClusterState: s.servedState(st).served(), Probes: lastSeen})
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
			// Changes arrive through the subscription; the tick only
			// keeps the heartbeat and notices a drain.
			if time.Since(last) >= timing.every {
				send()
			}
		}
	}
}

// sameReachability reports whether two probe rounds agree on every
// node's reachability and status (times may differ).
func sameReachability(a, b map[string]wire.NodeProbe) bool {
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
// (the client went away); later writes are skipped. Each frame must be
// taken within idle (Config.BodyIdleTimeout): a client that stops
// reading would otherwise block the stream in a write once the socket's
// buffers fill, where it sees neither a drain nor its context, and hold
// a stream slot for as long as it likes.
type eventWriter struct {
	w    io.Writer
	rc   *http.ResponseController
	idle time.Duration
	err  error
}

func (w *eventWriter) printf(format string, args ...any) {
	if w.err != nil {
		return
	}
	// Not every writer supports deadlines (httptest's recorder does
	// not); there is nothing to enforce then.
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	if _, w.err = fmt.Fprintf(w.w, format, args...); w.err == nil {
		w.err = w.rc.Flush()
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
