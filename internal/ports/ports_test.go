package ports

import (
	"fmt"
	"net"
	"testing"
)

// TestRange: the ports are free, consecutive and below the ephemeral
// range, where nothing that listens on port 0 or connects out takes them.
func TestRange(t *testing.T) {
	const n = 9
	base, err := Range(n)
	if err != nil {
		t.Fatal(err)
	}
	if base < low || base+n > ephemeralLow() {
		t.Fatalf("ports %d-%d, want them within [%d, %d)", base, base+n-1, low, ephemeralLow())
	}
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d of the range: %v", p, err)
		}
		l.Close()
	}
}
