package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestSendResendsOnlyWhenAReusedConnectionClosedUnanswered: the one race
// an HTTP/1.1 client must absorb (a keep-alive connection the server
// closes as the next request goes out) is resent once and counted; a
// failure on a new connection is a failure.
func TestSendResendsOnlyWhenAReusedConnectionClosedUnanswered(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dropOnConn int // the request number, on its connection, that the server drops unanswered
		wantResent int
		wantErr    bool
	}{
		{"reused connection closed before the answer", 2, 1, false},
		{"new connection closed before the answer", 1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			perConn := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				perConn[r.RemoteAddr]++
				n := perConn[r.RemoteAddr]
				mu.Unlock()
				if n == tc.dropOnConn {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				w.Write([]byte("ok"))
			}))
			defer srv.Close()
			c := &stegoClient{http: newLoadHTTPClient(1, 5*time.Second)}
			ctx := context.Background()
			if tc.dropOnConn > 1 { // a first exchange leaves a connection to reuse
				resp, _, err := c.send(ctx, srv.URL, "text/plain", []byte("x"))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body) // read to the end, or the connection is not reused
				resp.Body.Close()
			}
			resp, resent, err := c.send(ctx, srv.URL, "text/plain", []byte("x"))
			if err == nil {
				resp.Body.Close()
			}
			if resent != tc.wantResent || (err != nil) != tc.wantErr {
				t.Errorf("resent %d, err %v; want resent %d, error %v", resent, err, tc.wantResent, tc.wantErr)
			}
		})
	}
}
