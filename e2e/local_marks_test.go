//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// TestLocalClusterServesAsSoonAsANodeCan: admin calls sent through nginx
// while a node is down reach a live node, and nginx marks a node that
// failed a try as down for fail_timeout (2 s), and with every node
// marked it used to answer 502 ("no live upstreams") without asking
// any, however healthy they were again. One node killed and a moment in
// which the two others each refused (busy, paused or draining: 503)
// were enough: the marks outlived the refusals, and for up to 2 s every
// request failed while two nodes could serve. The upstream the last,
// patient try uses now lists the members again as backup servers that
// are never marked, so the first request after the refusals is served.
func TestLocalClusterServesAsSoonAsANodeCan(t *testing.T) {
	c := startLocalCluster(t)
	steadyState(t, c.nginx)
	out, err := c.script("token")
	if err != nil {
		t.Fatalf("cluster.sh token: %v", err)
	}
	token := strings.TrimSpace(out)
	admin := func(n, action, body string) {
		t.Helper()
		req, err := http.NewRequest("POST", fmt.Sprintf("%s/admin/nodes/stego-node%s/%s", c.nodeURL(n), n, action), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s node %s: %v", action, n, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s node %s: status %d", action, n, resp.StatusCode)
		}
	}
	hide := func() (string, error) {
		_, node, err := postMultipart(c.nginx+"/api/embed", "image/png", map[string][]byte{"file": []byte("marks")}, nil)
		return node, err
	}

	if err := c.signal("3", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Dead, not dying: a connection its listener still accepts is reset
	// once a request is on it, and that request is not retried.
	testenv.WaitFor(t, 5*time.Second, "node 3's port to refuse connections", func() bool {
		conn, err := net.Dial("tcp", strings.TrimPrefix(c.nodeURL("3"), "http://"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	// Admin calls through nginx reach a live node: one nginx sends to
	// the dead node is refused before it is sent, and goes to another.
	for i := range 6 { // round robin reaches node 3 within three
		req, err := http.NewRequest("POST", c.nginx+"/admin/nodes/stego-node1/restore", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("admin call %d through nginx with node 3 down: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("admin call %d through nginx with node 3 down: status %d", i+1, resp.StatusCode)
		}
	}
	errLog := filepath.Join(c.dir, "log", "nginx-error.log")
	// The marks last 2 s from the failed tries, so the hide after the
	// restore must come sooner, or it would pass whatever nginx does with
	// marks: a slow moment of the machine is tried again.
	for attempt := 1; ; attempt++ {
		before, err := os.ReadFile(errLog)
		if err != nil {
			t.Fatal(err)
		}
		admin("1", "fail", `{"action":"pause"}`)
		admin("2", "fail", `{"action":"pause"}`)
		// Every try of these fails. nginx marks a node down only for a
		// try it moves on from (a 503 on the last try goes to the client
		// unmarked), so it takes concurrent calls to mark every node in
		// both upstreams, as under load.
		var wg sync.WaitGroup
		var succeeded atomic.Int32
		for range 16 {
			wg.Go(func() {
				if _, err := hide(); err == nil {
					succeeded.Add(1)
				}
			})
		}
		wg.Wait()
		if n := succeeded.Load(); n > 0 {
			t.Fatalf("%d hides succeeded with node 3 killed and nodes 1 and 2 paused", n)
		}
		marked := time.Now()
		admin("1", "restore", `{}`)
		admin("2", "restore", `{}`)
		node, err := hide()
		took := time.Since(marked)
		if took > 1500*time.Millisecond {
			if attempt == 3 {
				t.Fatalf("the hide after the restore ended %s after the marks, three times: too late to test them", took.Round(time.Millisecond))
			}
			t.Logf("attempt %d: the hide after the restore ended %s after the marks, too late to test them; again", attempt, took.Round(time.Millisecond))
			time.Sleep(3 * time.Second) // the marks expire
			continue
		}
		if err != nil {
			t.Fatalf("hide with nodes 1 and 2 serving again, %s after they refused: %v", took.Round(time.Millisecond), err)
		}
		t.Logf("served by %s %s after nodes 1 and 2 refused", node, took.Round(time.Millisecond))
		if node == "stego-node3" {
			t.Errorf("answered by the killed node %s", node)
		}
		// Every node was marked (else the hide proved nothing): the
		// upstream of the first tries, which has no backups, ran out.
		after, err := os.ReadFile(errLog)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(after[len(before):]), "no live upstreams while connecting to upstream") {
			t.Fatalf("nginx never had every node marked down; its error log since the pauses:\n%s", after[len(before):])
		}
		return
	}
}
