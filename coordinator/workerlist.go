package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// workerList is this node's view of the workers' registry entries
// (WorkersPrefix). The published state lists members only, so that its
// size and its rewrites do not grow with the workers; every node adds
// the workers from this list when it serves the state.
//
// A member follows the entries with a watch: each worker's refresh
// costs one event on each of the (three or five) members' watches, a
// constant. A worker must not: N workers watching N workers' refreshes
// would cost N² events. It reads the entries instead, once per
// interval, and only while somebody asks it for the state (demand).
type workerList struct {
	client   *clientv3.Client
	log      *slog.Logger
	watch    bool          // follow with a watch (members) or read on demand (workers)
	interval time.Duration // on demand: one read per interval at most

	streaming func() bool // on demand: somebody follows the state (event streams)

	mu      sync.Mutex
	byID    map[string]wire.NodeInfo
	changed chan struct{} // capacity 1: the list changed since the last receive

	wanted atomic.Int64  // on demand: unix nanoseconds of the last Want
	wake   chan struct{} // on demand: capacity 1, read now
}

func newWorkerList(client *clientv3.Client, log *slog.Logger, watch bool, interval time.Duration, streaming func() bool) *workerList {
	return &workerList{
		client: client, log: log, watch: watch, interval: interval, streaming: streaming,
		byID: map[string]wire.NodeInfo{}, changed: make(chan struct{}, 1), wake: make(chan struct{}, 1),
	}
}

// Want says somebody asked for the state: a list read on demand is
// read for a few more intervals (and at once, after a quiet spell).
func (l *workerList) Want() {
	if l.watch {
		return
	}
	if l.wanted.Swap(time.Now().UnixNano()) == 0 {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Workers returns the workers' entries, sorted by id.
func (l *workerList) Workers() []wire.NodeInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.SortedFunc(maps.Values(l.byID), func(a, b wire.NodeInfo) int { return strings.Compare(a.ID, b.ID) })
}

// Changed delivers a value whenever the list may have changed.
func (l *workerList) Changed() <-chan struct{} { return l.changed }

func (l *workerList) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// Run keeps the list until ctx ends, then returns nil.
func (l *workerList) Run(ctx context.Context) error {
	if l.watch {
		l.follow(ctx)
	} else {
		l.readOnDemand(ctx)
	}
	return nil
}

// follow reads the entries and then watches them from the read's
// revision, starting over after any interruption.
func (l *workerList) follow(ctx context.Context) {
	for ctx.Err() == nil {
		rev, err := l.read(ctx)
		if err == nil {
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for resp := range l.client.Watch(wctx, WorkersPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
				if err = resp.Err(); err != nil {
					break
				}
				l.apply(resp.Events)
			}
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			l.log.Debug("following the workers' entries; starting over", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(rewatchPause):
		}
	}
}

// readOnDemand reads the entries every interval while somebody follows
// the state or asked for it in the last few intervals.
func (l *workerList) readOnDemand(ctx context.Context) {
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-l.wake:
		}
		if !l.streaming() {
			last := l.wanted.Load()
			if last == 0 {
				continue
			}
			if time.Since(time.Unix(0, last)) > 5*l.interval {
				l.wanted.CompareAndSwap(last, 0) // quiet: the next Want reads at once
				continue
			}
		}
		if _, err := l.read(ctx); err != nil && ctx.Err() == nil {
			l.log.Debug("reading the workers' entries", "err", err)
		}
	}
}

// read replaces the list with the entries etcd has now and returns the
// revision it read at.
func (l *workerList) read(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := l.client.Get(rctx, WorkersPrefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("coordinator: read the workers' entries: %w", err)
	}
	byID := make(map[string]wire.NodeInfo, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if n, ok := decodeWorker(kv); ok {
			byID[n.ID] = n
		}
	}
	l.mu.Lock()
	l.byID = byID
	l.mu.Unlock()
	l.signal()
	return resp.Header.Revision, nil
}

// apply applies watch events to the list.
func (l *workerList) apply(events []*clientv3.Event) {
	l.mu.Lock()
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete {
			delete(l.byID, strings.TrimPrefix(string(ev.Kv.Key), WorkersPrefix))
		} else if n, ok := decodeWorker(ev.Kv); ok {
			l.byID[n.ID] = n
		}
	}
	l.mu.Unlock()
	l.signal()
}

// decodeWorker decodes a worker's entry. The id is the key's: an entry
// cannot pass itself off as another node. An entry whose id is not a
// ValidNodeID is not one.
func decodeWorker(kv *mvccpb.KeyValue) (wire.NodeInfo, bool) {
	var n wire.NodeInfo
	if json.Unmarshal(kv.Value, &n) != nil {
		return n, false
	}
	n.ID = strings.TrimPrefix(string(kv.Key), WorkersPrefix)
	n.Worker = true
	return n, ValidNodeID(n.ID)
}
