package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// ProbeFunc checks whether a node is alive by asking its /healthz. It
// returns the HTTP status the node answered with, or an error when the
// node cannot be reached in time; a node that answers in any way (even
// 503: paused nodes resign by themselves) is alive. An error wrapping
// ErrNodeDown says more: the node's process is gone.
type ProbeFunc func(ctx context.Context, n wire.NodeInfo) (status int, err error)

// ErrNodeDown marks a probe failure that proves the node's process is
// gone, as opposed to merely not answering (stopped, cut off, or slow
// under load).
var ErrNodeDown = errors.New("coordinator: node down")

var errNoAddress = errors.New("coordinator: node has no registered address")

// closeProofWindow: a connection the node closes this soon after a
// successful probe on it was closed by its dying process. (A server
// closes a busy keep-alive connection for no other reason; its idle
// timeout is minutes.)
const closeProofWindow = time.Second

// HTTPProbe returns a ProbeFunc that GETs a node's /healthz over
// kept-alive connections, dialling with dialTimeout. A failed probe is
// proof that the node is down (ErrNodeDown) when its kernel answered for
// it that nothing holds the port — the connection was refused or reset —
// or when the node closed a connection shortly after a probe on it
// succeeded: its process exited and the kernel closed its sockets. The
// second proof matters in containers, where the address stops answering
// at all once the process is gone, so no refusal ever comes. A stopped or
// overloaded process keeps its connections open, and an unreachable one
// closes nothing: neither is proof.
func HTTPProbe(dialTimeout time.Duration) ProbeFunc {
	w := &closeWatch{lastOK: map[string]time.Time{}, closedAt: map[string]time.Time{}}
	dialer := &net.Dialer{Timeout: dialTimeout}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &watchedConn{Conn: c, addr: addr, watch: w}, nil
			},
			MaxIdleConnsPerHost: 2,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, n wire.NodeInfo) (int, error) {
		if n.IP == "" || n.HTTPPort == 0 {
			return 0, errNoAddress
		}
		addr := net.JoinHostPort(n.IP, strconv.Itoa(n.HTTPPort))
		if w.closedSoonAfterOK(addr) && w.closedWithin(addr, closeProofWindow) {
			// Do not wait for a dial that a vanished address never
			// answers: the close was the answer.
			return 0, fmt.Errorf("%w: %s closed our connection right after answering", ErrNodeDown, addr)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		if err != nil {
			return 0, fmt.Errorf("coordinator: probe request for %s: %w", addr, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			if refusedOrReset(err) || w.closedSoonAfterOK(addr) {
				return 0, fmt.Errorf("%w: %w", ErrNodeDown, err)
			}
			return 0, err
		}
		// Read the (small) answer to the end so that the connection is
		// kept alive: a closed one is what proves a dead process.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		w.ok(addr)
		return resp.StatusCode, nil
	}
}

// refusedOrReset: the node's kernel answered for it that no process
// holds the port (a refused connection, or one reset or closed under a
// request).
func refusedOrReset(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// closeWatch remembers, per address, the last successful probe and the
// last time the node closed one of our connections.
type closeWatch struct {
	mu       sync.Mutex
	lastOK   map[string]time.Time
	closedAt map[string]time.Time
}

func (w *closeWatch) ok(addr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastOK[addr] = time.Now()
}

func (w *closeWatch) closedByPeer(addr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closedAt[addr] = time.Now()
}

func (w *closeWatch) closedSoonAfterOK(addr string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	ok, closed := w.lastOK[addr], w.closedAt[addr]
	return !ok.IsZero() && closed.After(ok) && closed.Sub(ok) < closeProofWindow
}

// closedWithin: the node closed a connection less than d ago.
func (w *closeWatch) closedWithin(addr string, d time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	closed := w.closedAt[addr]
	return !closed.IsZero() && time.Since(closed) < d
}

// watchedConn reports the peer closing the connection (end of stream or
// reset), not our own closing of it (net.ErrClosed).
type watchedConn struct {
	net.Conn
	addr  string
	watch *closeWatch
	once  sync.Once
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		c.once.Do(func() { c.watch.closedByPeer(c.addr) })
	}
	return n, err
}
