package coordinator

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

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

// TestRaftMoveCandidates: raft leadership moves only to a member that
// is healthy, fresh and settled, the longest-running first, never to
// this member or a worker.
func TestRaftMoveCandidates(t *testing.T) {
	now := time.Now()
	node := func(id, member string, healthy bool, started, updated time.Duration) wire.NodeStatus {
		return wire.NodeStatus{NodeInfo: wire.NodeInfo{ID: id, StartedAt: now.Add(-started), UpdatedAt: now.Add(-updated)},
			Healthy: healthy, EtcdMemberID: member}
	}
	for _, tc := range []struct {
		name  string
		nodes []wire.NodeStatus
		want  []string
	}{
		{"the longest-running first", []wire.NodeStatus{
			node("n2", "b", true, time.Minute, 0), node("n3", "c", true, time.Hour, 0)}, []string{"n3", "n2"}},
		{"not this member", []wire.NodeStatus{node("n1", "a", true, time.Hour, 0), node("n2", "b", true, time.Hour, 0)}, []string{"n2"}},
		{"not a member just restarted", []wire.NodeStatus{node("n2", "b", true, 2 * time.Second, 0), node("n3", "c", true, time.Hour, 0)}, []string{"n3"}},
		{"not an unhealthy one", []wire.NodeStatus{node("n2", "b", false, time.Hour, 0)}, nil},
		{"not a stale entry", []wire.NodeStatus{node("n2", "b", true, time.Hour, 3 * time.Second)}, nil},
		{"not a worker", []wire.NodeStatus{node("w1", "", true, time.Hour, 0)}, nil},
	} {
		var got []string
		for _, n := range raftMoveCandidates(&wire.ClusterState{Nodes: tc.nodes}, "a", now) {
			got = append(got, n.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
