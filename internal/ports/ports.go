package ports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// low is the first port Range considers: below it are the well-known and
// commonly configured ones.
const low = 20000

// Range returns the first of n consecutive loopback ports that are free
// now. They lie below the kernel's ephemeral ports: a port that is free
// when checked but in that range can be taken a moment later as the local
// end of any outgoing connection (a cluster's own etcd clients, another
// test's), or by anything listening on port 0, and the server meant for
// it then cannot listen ("address already in use").
func Range(n int) (int, error) {
	high := ephemeralLow() - n
	if high <= low {
		return 0, fmt.Errorf("ports: no room for %d ports below the ephemeral range", n)
	}
	for range 50 {
		base := low + rand.IntN((high-low)/10)*10
		if free(base, n) {
			return base, nil
		}
	}
	return 0, errors.New("ports: no consecutive free ports found in 50 tries")
}

// ephemeralLow is the first port the kernel hands out to outgoing
// connections (Linux's ip_local_port_range; its default elsewhere).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if p, err := strconv.Atoi(f[0]); err == nil {
				return p
			}
		}
	}
	return 32768
}

// free reports whether n consecutive loopback ports from base are free
// now.
func free(base, n int) bool {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
