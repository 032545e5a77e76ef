package coordinator

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// rewatchPause is how long a loop waits before opening a watch again
// after one ended: a watch that requires a leader ends at once while the
// member has none, and reopening it at once spins.
const rewatchPause = 100 * time.Millisecond

// stateWatcher follows the published state with a watch, so every node
// answers status queries with the same, latest state without a read per
// request.
type stateWatcher struct {
	client *clientv3.Client
	log    *slog.Logger
	state  latest[*wire.ClusterState]
}

// newer: states only move forward, by etcd revision.
func newer(old, s *wire.ClusterState) bool { return old == nil || s.Revision > old.Revision }

// Run reads the state and then follows it until ctx ends, re-reading
// and re-watching after any interruption. It returns nil when ctx ends.
func (w *stateWatcher) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		s, rev, err := readState(ctx, w.client)
		switch {
		case err == nil:
			w.state.publishIf(s, newer)
		case ctx.Err() == nil && err != errNoState:
			w.log.Debug("reading the cluster state", "err", err)
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		opts := []clientv3.OpOption{}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev+1))
		}
		for resp := range w.client.Watch(wctx, StateKey, opts...) {
			if err := resp.Err(); err != nil {
				if ctx.Err() == nil {
					w.log.Debug("cluster state watch interrupted; watching again", "err", err)
				}
				break
			}
			for _, ev := range resp.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				s, err := decodeState(ev.Kv.Value, ev.Kv.ModRevision)
				if err != nil {
					w.log.Warn("ignoring a cluster state that does not decode", "revision", ev.Kv.ModRevision, "err", err)
					continue
				}
				w.state.publishIf(s, newer)
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(rewatchPause):
		}
	}
	return nil
}
