package api

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stegocluster/stegocluster/worker"
)

// metrics are the node's own Prometheus metrics. They live in a registry
// of their own; /metrics serves it together with the default registry,
// where the embedded etcd registers its metrics.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
}

// newMetrics registers the request metrics, and metrics read at scrape
// time from the pool and the node's coordination.
func newMetrics(pool *worker.Pool, cluster Cluster) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stegocluster_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stegocluster_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"route", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stegocluster_http_request_bytes_total", Help: "Request body bytes received, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stegocluster_http_response_bytes_total", Help: "Response body bytes sent, by route.",
		}, []string{"route"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "stegocluster_is_leader", Help: "1 while this node leads the cluster.",
		}, func() float64 {
			if cluster.Leadership().IsLeader {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "stegocluster_leader_changes_total", Help: "Times this node won or lost leadership.",
		}, func() float64 { return float64(cluster.LeadershipChanges()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "stegocluster_leader_epoch", Help: "Epoch (election key create revision) of this node's current leadership, 0 when follower.",
		}, func() float64 { return float64(cluster.Leadership().Epoch) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stegocluster_worker_in_flight", Help: "Stego jobs running."},
			func() float64 { return float64(pool.InFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stegocluster_worker_queue_depth", Help: "Stego jobs waiting for a worker."},
			func() float64 { return float64(pool.Queued()) }),
	)
	return m
}

func (m *metrics) observe(route, method string, status int, seconds float64, in, out int64) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(seconds)
	if in > 0 {
		m.bytesIn.WithLabelValues(route).Add(float64(in))
	}
	if out > 0 {
		m.bytesOut.WithLabelValues(route).Add(float64(out))
	}
}
