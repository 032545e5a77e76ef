// Package testenv holds what the project's tests share: free loopback
// ports, polling for a condition, the real photographs under the
// repository's testdata/, deterministic random data and the sample
// layouts a cover can have. It is for tests only; no binary imports it.
package testenv

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/poll"
	"github.com/stegocluster/stegocluster/internal/ports"
)

// FreePorts reserves n distinct loopback ports and releases them for
// the caller to bind. Another process may take one in between; on a
// test machine that window is good enough.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: reserve a port: %v", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range listeners {
		l.Close()
	}
	return ports
}

// FreePortRange returns the first of n consecutive free loopback ports,
// for programs that number their ports from a base (compose/cluster.sh):
// FreePorts' scattered ports will not do there. See ports.Range for why
// they lie below the kernel's ephemeral ports.
func FreePortRange(t testing.TB, n int) int {
	t.Helper()
	base, err := ports.Range(n)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return base
}

// FreePort is FreePorts(t, 1)[0].
func FreePort(t testing.TB) int { return FreePorts(t, 1)[0] }

// WaitFor polls cond until it holds, failing the test after timeout. It
// returns how long the wait took.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	if err := poll.Until(context.Background(), timeout, what, cond); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// Covers of testdata/covers (see its README for sources and licence).
const (
	CoverSmallPNG = "street-640x426.png"
	CoverLargePNG = "street-1920x1280.png"
	CoverLargeJPG = "street-1920x1280.jpg"
)

// CoverPath is the path of a photograph in the repository's
// testdata/covers, found from the test's working directory upwards.
func CoverPath(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "testdata", "covers", name)
}

// Cover reads a photograph of testdata/covers.
func Cover(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(CoverPath(t, name))
	if err != nil {
		t.Fatalf("testenv: cover %s: %v", name, err)
	}
	return b
}

// RepoRoot is the directory holding go.mod, found from the working
// directory (a package's directory under go test) upwards.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// SyncBuffer is a bytes.Buffer that a logger may write to from several
// goroutines while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
