package api

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The admin failure allowance: a client may get adminFailureBurst
// tokens wrong at once, then one more every adminFailureEvery (with a
// token of 16 random characters, guessing is hopeless at that pace). Up to
// maxLimitedClients clients are remembered (about 200 bytes each).
const (
	adminFailureBurst = 5
	adminFailureEvery = 10 * time.Second
	maxLimitedClients = 10000
)

// failureLimiter counts failures per client in a token bucket each
// (golang.org/x/time/rate) and tells a client with an empty bucket how
// long to wait. Its memory is bounded: a client whose bucket has
// refilled is forgotten when next seen, and beyond maxClients the one
// whose last failure is oldest is dropped, so a flood of addresses
// costs at most maxClients entries (at worst, an address dropped that way gets
// a fresh allowance).
type failureLimiter struct {
	every      time.Duration
	burst      int
	maxClients int

	mu      sync.Mutex
	clients map[string]*list.Element // values are *limitedClient
	recent  list.List                // most recent failure first
}

type limitedClient struct {
	addr    string
	limiter *rate.Limiter
}

func newFailureLimiter(burst int, every time.Duration, maxClients int) *failureLimiter {
	return &failureLimiter{every: every, burst: burst, maxClients: maxClients, clients: map[string]*list.Element{}}
}

// wait returns how long addr must wait before its next admin call, 0 if
// it may make one now.
func (l *failureLimiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.clients[addr]
	if !ok {
		return 0
	}
	tokens := e.Value.(*limitedClient).limiter.TokensAt(now)
	switch {
	case tokens >= float64(l.burst): // refilled: no different from a new client
		l.recent.Remove(e)
		delete(l.clients, addr)
		return 0
	case tokens >= 1:
		return 0
	}
	return time.Duration((1 - tokens) * float64(l.every))
}

// fail records a failure of addr.
func (l *failureLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.clients[addr]
	if ok {
		l.recent.MoveToFront(e)
	} else {
		if l.recent.Len() >= l.maxClients {
			oldest := l.recent.Back()
			l.recent.Remove(oldest)
			delete(l.clients, oldest.Value.(*limitedClient).addr)
		}
		c := &limitedClient{addr: addr, limiter: rate.NewLimiter(rate.Every(l.every), l.burst)}
		e = l.recent.PushFront(c)
		l.clients[addr] = e
	}
	// Reserve, unlike Allow, takes the token even from an empty bucket:
	// failures that raced past wait push the next try further out.
	e.Value.(*limitedClient).limiter.ReserveN(now, 1)
}

// size is the number of clients remembered.
func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
