package coordinator

import (
	"encoding/json"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/wire"
)

// TestRegistryChanged: the leader publishes at once when a node joins,
// leaves, pauses or moves, and leaves a refresh of live figures to the
// next tick (one rewrite per second, not one per node per second).
func TestRegistryChanged(t *testing.T) {
	entry := func(n wire.NodeInfo) []byte {
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := wire.NodeInfo{ID: "n1", IP: "10.0.0.1", HTTPPort: 8080}
	refreshed := base
	refreshed.CPUPct, refreshed.QPS1m = 40, 12
	paused := base
	paused.Paused = true
	moved := base
	moved.IP = "10.0.0.9"
	put := func(prev, cur wire.NodeInfo) *clientv3.Event {
		return &clientv3.Event{Type: clientv3.EventTypePut,
			Kv:     &mvccpb.KeyValue{Key: []byte(NodeKey("n1")), Value: entry(cur), CreateRevision: 5, ModRevision: 9},
			PrevKv: &mvccpb.KeyValue{Key: []byte(NodeKey("n1")), Value: entry(prev), CreateRevision: 5, ModRevision: 8}}
	}
	for _, tc := range []struct {
		name   string
		events []*clientv3.Event
		want   bool
	}{
		{"a refresh of live figures", []*clientv3.Event{put(base, refreshed)}, false},
		{"a node joins", []*clientv3.Event{{Type: clientv3.EventTypePut,
			Kv: &mvccpb.KeyValue{Key: []byte(NodeKey("n2")), Value: entry(base), CreateRevision: 9, ModRevision: 9}}}, true},
		{"a node leaves", []*clientv3.Event{{Type: clientv3.EventTypeDelete, Kv: &mvccpb.KeyValue{Key: []byte(NodeKey("n1"))}}}, true},
		{"a node pauses", []*clientv3.Event{put(base, paused)}, true},
		{"a node moves", []*clientv3.Event{put(base, moved)}, true},
		{"refreshes, then a pause", []*clientv3.Event{put(base, refreshed), put(refreshed, paused)}, true},
	} {
		if got := registryChanged(tc.events); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
