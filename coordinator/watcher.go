package coordinator

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// StateWatcher follows the published state with a watch, so every node
// answers status queries with the same, latest state without a read per
// request.
type StateWatcher struct {
	client *clientv3.Client

	mu      sync.Mutex
	current *ClusterState
	subs    map[chan *ClusterState]struct{}
}

// NewStateWatcher makes a watcher; it follows nothing until Run.
func NewStateWatcher(client *clientv3.Client) *StateWatcher {
	return &StateWatcher{client: client, subs: map[chan *ClusterState]struct{}{}}
}

// Current returns the latest state seen, or nil before the first.
func (w *StateWatcher) Current() *ClusterState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

// Subscribe returns a channel that receives each new state (the latest
// one only, if the reader falls behind) and a function to unsubscribe.
func (w *StateWatcher) Subscribe() (<-chan *ClusterState, func()) {
	ch := make(chan *ClusterState, 1)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}

func (w *StateWatcher) publish(s *ClusterState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.current != nil && s.Revision <= w.current.Revision {
		return
	}
	w.current = s
	for ch := range w.subs {
		select {
		case <-ch: // drop the stale one
		default:
		}
		ch <- s
	}
}

// Run reads the state and then follows it until ctx ends, re-reading
// and re-watching after any interruption. It returns nil when ctx ends.
func (w *StateWatcher) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		rev := int64(0)
		if s, err := ReadState(ctx, w.client); err == nil {
			w.publish(s)
			rev = s.Revision
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		opts := []clientv3.OpOption{}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev+1))
		}
		for resp := range w.client.Watch(wctx, StateKey, opts...) {
			if resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut {
					if s, err := decodeState(ev.Kv.Value, ev.Kv.ModRevision); err == nil {
						w.publish(s)
					}
				}
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
