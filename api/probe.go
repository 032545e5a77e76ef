package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// NodeProbe is what one GET /healthz of a node saw.
type NodeProbe struct {
	// Reachable: the node answered HTTP at all (a paused node answers,
	// with 503). False when the connection failed or timed out, or the
	// node has no registered address.
	Reachable bool      `json:"reachable"`
	Status    int       `json:"status,omitempty"` // the HTTP status of /healthz
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// probeTarget is a node to probe; Port 0 means it has no registered
// address (its registry entry is gone).
type probeTarget struct {
	ID   string
	IP   string
	Port int
}

// probeTiming: a round of probes every `every`, each bounded by
// `timeout`. A crashed process refuses the connection at once; a frozen
// one is caught by the timeout.
type probeTiming struct {
	every, timeout time.Duration
}

func defaultProbeTiming() probeTiming {
	return probeTiming{every: 250 * time.Millisecond, timeout: 800 * time.Millisecond}
}

// runProbes probes every target's /healthz each timing.every, all at
// once, and sends each round's results to out, replacing a round the
// reader has not taken yet (out needs a buffer of one). It returns when
// ctx ends, cancelling the probes in flight and closing its connections.
func runProbes(ctx context.Context, timing probeTiming, targets func() []probeTarget, out chan map[string]NodeProbe) {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timing.timeout}).DialContext,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     10 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: timing.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ticker := time.NewTicker(timing.every)
	defer ticker.Stop()
	for {
		round := probeAll(ctx, client, targets())
		if ctx.Err() != nil {
			return
		}
		select { // drop the round the reader has not taken
		case <-out:
		default:
		}
		select {
		case out <- round:
		case <-ctx.Done():
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probeAll probes the targets concurrently and waits for all of them.
func probeAll(ctx context.Context, client *http.Client, targets []probeTarget) map[string]NodeProbe {
	results := make(map[string]NodeProbe, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := probe(ctx, client, t)
			mu.Lock()
			results[t.ID] = p
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}

// probe does one GET /healthz of t; the client's timeout bounds it.
func probe(ctx context.Context, client *http.Client, t probeTarget) NodeProbe {
	now := time.Now().UTC()
	if t.IP == "" || t.Port == 0 {
		return NodeProbe{Error: "no registered address", CheckedAt: now}
	}
	url := "http://" + net.JoinHostPort(t.IP, strconv.Itoa(t.Port)) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return NodeProbe{Error: fmt.Sprintf("bad address: %v", err), CheckedAt: now}
	}
	resp, err := client.Do(req)
	if err != nil {
		return NodeProbe{Error: err.Error(), CheckedAt: now}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection reusable
	return NodeProbe{Reachable: true, Status: resp.StatusCode, CheckedAt: now}
}
