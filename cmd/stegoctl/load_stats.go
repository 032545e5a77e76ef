package main

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// Failure kinds besides HTTP status codes.
const (
	kindTransport = "transport" // no HTTP answer: refused, reset, timeout, oversized body
	kindVerify    = "verify"    // an answer, but the secret did not come back byte for byte
)

// Bounds of what a load run keeps in memory.
const (
	maxLatencySamples = 1_000_000 // beyond this, a uniform reservoir of this size
	maxErrorMessages  = 10
)

// outcome is one measured request: embed (with its verify) or extract.
type outcome struct {
	node    string        // X-Node-ID of the measured answer, "" if none
	latency time.Duration // of the measured call only, not the verify
	kind    string        // "" on success, else a status code, kindTransport or kindVerify
	err     string        // the message, on failure
	resent  int           // requests sent again on a new connection
}

// loadStats accumulates outcomes from all clients; safe for concurrent use.
// Latencies of successful requests are kept exactly up to
// maxLatencySamples, then replaced at random (reservoir sampling), so
// percentiles are exact for runs up to a million requests and unbiased
// estimates beyond; the maximum is always exact.
type loadStats struct {
	mu       sync.Mutex
	total    int
	ok       int
	resent   int
	failures map[string]int
	errors   []string
	perNode  map[string]int
	samples  []time.Duration
	seen     int // successful latencies offered to the reservoir
	max      time.Duration
	rng      *rand.Rand
}

func newLoadStats() *loadStats {
	return &loadStats{
		failures: map[string]int{"502": 0, "503": 0, "504": 0, kindTransport: 0, kindVerify: 0},
		perNode:  map[string]int{},
		rng:      rand.New(rand.NewPCG(1, 2)),
	}
}

// add records one outcome.
func (s *loadStats) add(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.resent += o.resent
	if o.node != "" {
		s.perNode[o.node]++
	}
	if o.kind != "" {
		s.failures[o.kind]++
		if len(s.errors) < maxErrorMessages {
			s.errors = append(s.errors, o.err)
		}
		return
	}
	s.ok++
	s.max = max(s.max, o.latency)
	s.seen++
	if len(s.samples) < maxLatencySamples {
		s.samples = append(s.samples, o.latency)
	} else if i := s.rng.IntN(s.seen); i < maxLatencySamples {
		s.samples[i] = o.latency
	}
}

// counts returns done, ok and failed so far (for the progress line).
func (s *loadStats) counts() (done, ok, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.ok, s.total - s.ok
}

// report summarizes the run so far.
// Its JSON form is the --json output, so it is the wire type that the
// end-to-end tests decode.
func (s *loadStats) report(elapsed time.Duration) wire.LoadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := wire.LoadReport{
		DurationS: elapsed.Seconds(),
		Total:     s.total,
		OK:        s.ok,
		Failed:    s.total - s.ok,
		Resent:    s.resent,
		Failures:  map[string]int{},
		Errors:    append([]string{}, s.errors...),
		PerNode:   map[string]int{},
	}
	for k, v := range s.failures {
		r.Failures[k] = v
	}
	for k, v := range s.perNode {
		r.PerNode[k] = v
	}
	if secs := elapsed.Seconds(); secs > 0 {
		r.ThroughputRPS = float64(s.ok) / secs
	}
	samples := make([]float64, len(s.samples))
	for i, d := range s.samples {
		samples[i] = ms(d)
	}
	r.Latency = wire.LatencyMs{P50: wire.Percentile(samples, 50), P95: wire.Percentile(samples, 95),
		P99: wire.Percentile(samples, 99), Max: ms(s.max)}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failureKind names a non-2xx status as a failure kind.
func failureKind(status int) string { return strconv.Itoa(status) }
