package api

import (
	"slices"
	"sync"
	"time"
)

// window keeps the last minute of request latencies in one-second
// buckets, for the registry's qps_1m and p95_ms. Each bucket keeps at
// most samplesPerBucket latencies (a uniform-enough sample at the rates a
// node serves), so memory stays fixed.
type window struct {
	mu      sync.Mutex
	buckets [60]bucket
}

type bucket struct {
	second  int64
	count   int
	samples []float64 // milliseconds
}

const samplesPerBucket = 256

func (w *window) observe(now time.Time, latency time.Duration) {
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

// stats returns requests per second and the 95th percentile latency
// (ms) over the minute before now.
func (w *window) stats(now time.Time) (qps, p95 float64) {
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
	slices.Sort(all)
	return float64(total) / 60, all[min(len(all)-1, len(all)*95/100)]
}
