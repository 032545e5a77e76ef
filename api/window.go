package api

import (
	"sync"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// RequestWindow keeps the last minute of stego request latencies in
// one-second buckets, for the registry's qps_1m and p95_ms. Each bucket
// counts every request but keeps at most samplesPerBucket latencies,
// overwriting the oldest, so memory stays fixed; above that rate (256
// requests in one second on one node) p95 is that of each second's
// latest requests. The zero value is ready to use.
type RequestWindow struct {
	mu      sync.Mutex
	buckets [60]bucket
}

type bucket struct {
	second  int64
	count   int
	samples []float64 // milliseconds
}

const samplesPerBucket = 256

// Observe records a request that started at now and took latency.
func (w *RequestWindow) Observe(now time.Time, latency time.Duration) {
	sec := now.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	b := &w.buckets[sec%60]
	if b.second != sec {
		b.second, b.count, b.samples = sec, 0, b.samples[:0]
	}
	b.count++
	if len(b.samples) < samplesPerBucket {
		b.samples = append(b.samples, float64(latency)/float64(time.Millisecond))
	} else {
		b.samples[b.count%samplesPerBucket] = float64(latency) / float64(time.Millisecond)
	}
}

// Stats returns requests per second and the 95th percentile latency
// (ms, nearest rank) over the minute before now.
func (w *RequestWindow) Stats(now time.Time) (qps, p95 float64) {
	sec := now.Unix()
	w.mu.Lock()
	var all []float64
	total := 0
	for i := range w.buckets {
		if b := w.buckets[i]; b.second > sec-60 && b.second <= sec {
			total += b.count
			all = append(all, b.samples...)
		}
	}
	w.mu.Unlock()
	if len(all) == 0 {
		return 0, 0
	}
	return float64(total) / 60, wire.Percentile(all, 95)
}
