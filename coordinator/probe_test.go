package coordinator

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// nodeAt returns the NodeInfo of a test server.
func nodeAt(t *testing.T, url string) wire.NodeInfo {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return wire.NodeInfo{IP: u.Hostname(), HTTPPort: port}
}

// hangingServer answers /healthz until hang is set, then never answers.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var hang atomic.Bool
	done := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-done:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable) // paused: alive all the same
	}))
	t.Cleanup(func() { close(done); s.Close() })
	return s, &hang
}

// HTTPProbe tells a node whose process is gone from one that merely
// does not answer: only the first is ErrNodeDown. Each case probes a
// live node once, injects the fault, and probes again.
func TestHTTPProbeProvesDownOnlyWhenTheProcessIsGone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    func(s *httptest.Server, hang *atomic.Bool)
		wantErr  bool
		wantDown bool
	}{
		{"answers, even 503", func(*httptest.Server, *atomic.Bool) {}, false, false},
		{"process gone: connections closed, port refused", func(s *httptest.Server, _ *atomic.Bool) { s.Close() }, true, true},
		{"stopped, cut off or slow: no answer", func(_ *httptest.Server, hang *atomic.Bool) { hang.Store(true) }, true, false},
		// A container's process dies: its kernel closes our kept-alive
		// connection, then its address answers nothing at all.
		{"connection closed, then no answer", func(s *httptest.Server, hang *atomic.Bool) {
			hang.Store(true)
			s.CloseClientConnections()
		}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, hang := hangingServer(t)
			n := nodeAt(t, s.URL)
			probe := HTTPProbe(time.Second)
			if _, err := probe(context.Background(), n); err != nil {
				t.Fatalf("probe of a live node: %v", err)
			}
			tc.fault(s, hang)
			time.Sleep(20 * time.Millisecond) // let the client see a close
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := probe(ctx, n)
			if (err != nil) != tc.wantErr || errors.Is(err, ErrNodeDown) != tc.wantDown {
				t.Fatalf("probe: %v (want error %v, down %v)", err, tc.wantErr, tc.wantDown)
			}
		})
	}
}
