package coordinator

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// TestRegistryEntryOutlivesSlowWrites: a member that answers nothing for
// a few of the registry's intervals (well within the lease's TTL) must
// not make the node delete its own entry. Each refresh used to end the
// lease when it timed out, revoking the entry, so the node vanished from
// the status until it registered again.
func TestRegistryEntryOutlivesSlowWrites(t *testing.T) {
	c := newTestCluster(t, 1)
	c.waitLeader(20 * time.Second)
	proxy := newFreezableProxy(t, strings.TrimPrefix(c.configs[0].Member.ClientURL, "http://"))
	client, err := newClient([]string{"http://" + proxy.ln.Addr().String()}, TLSFiles{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	const key = NodesPrefix + "slow-writes"
	var logs testenv.SyncBuffer
	r := &registry{client: client, key: key, log: slog.New(slog.NewTextHandler(&logs, nil)), ttl: 3, interval: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, func() wire.NodeInfo { return wire.NodeInfo{ID: "slow-writes"} }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	testenv.WaitFor(t, 10*time.Second, "the entry written", func() bool { return !r.lastWrite().IsZero() })

	direct := c.nodes[0].client
	now, err := direct.Get(context.Background(), key)
	if err != nil || len(now.Kvs) != 1 {
		t.Fatalf("read the entry: %v", err)
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	events := direct.Watch(wctx, key, clientv3.WithRev(now.Header.Revision+1))

	proxy.freeze(true)
	time.Sleep(4 * r.interval) // three or four refreshes time out
	proxy.freeze(false)
	thawed := time.Now()
	testenv.WaitFor(t, 10*time.Second, "the entry refreshed after the thaw", func() bool { return r.lastWrite().After(thawed) })
	// The failed refreshes are reported once, and their end once.
	for _, line := range []string{"registry entry not refreshed", "registry entry refreshed again"} {
		if n := strings.Count(logs.String(), line); n != 1 {
			t.Errorf("%q logged %d times, want once; the log:\n%s", line, n, logs.String())
		}
	}

	// Every event up to a little after the refresh: none may be a delete.
	settle, stopSettle := context.WithTimeout(context.Background(), 2*r.interval)
	defer stopSettle()
	for {
		select {
		case resp, ok := <-events:
			if !ok || resp.Err() != nil {
				t.Fatalf("watch the entry: %v", resp.Err())
			}
			for _, ev := range resp.Events {
				if ev.Type == mvccpb.DELETE {
					t.Fatalf("the node deleted its own entry at revision %d", ev.Kv.ModRevision)
				}
			}
		case <-settle.Done():
			return
		}
	}
}
