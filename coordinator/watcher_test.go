package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// A state older than the last compaction (no leader has published for
// longer than etcd's compaction interval, while other writes went on) is
// still followed with one watch: one from the state's own revision would
// be refused as compacted, and the watcher would re-read and re-watch ten
// times a second on every node until a leader published again.
func TestStateWatcherOutlivesCompaction(t *testing.T) {
	ports := testenv.FreePorts(t, 2)
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	cfg := Config{Member: MemberConfig{
		Name: "solo", DataDir: t.TempDir(), PeerURL: peer,
		ClientURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		InitialCluster: "solo=" + peer, ClusterToken: "test-" + t.Name(),
	}}.withDefaults()
	m, err := startMember(context.Background(), cfg.Member, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	client := m.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.Put(ctx, StateKey, `{"leader_id":"n1","epoch":1}`); err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := range 20 { // the registry's refreshes, say
		resp, err := client.Put(ctx, NodeKey(fmt.Sprintf("n%d", i)), "{}")
		if err != nil {
			t.Fatal(err)
		}
		last = resp.Header.Revision
	}
	if _, err := client.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}

	var logs testenv.SyncBuffer
	w := &stateWatcher{client: client, log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	testenv.WaitFor(t, 5*time.Second, "the state to be read", func() bool { return w.state.Current() != nil })
	time.Sleep(time.Second)
	// A state published now arrives by the watch.
	if _, err := client.Put(ctx, StateKey, `{"leader_id":"n2","epoch":2}`); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "the new state", func() bool { s := w.state.Current(); return s != nil && s.LeaderID == "n2" })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "watching again"); n > 0 {
		t.Errorf("the watch was reopened %d times in a second:\n%s", n, logs.String())
	}
}
