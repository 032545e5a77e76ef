package wire

// LoadReport is what `stegoctl load --json` prints.
type LoadReport struct {
	Op        string         `json:"op"`
	Targets   []string       `json:"targets"`
	Clients   int            `json:"clients"`
	SizeBytes int            `json:"size_bytes"`
	DurationS float64        `json:"duration_s"`
	Total     int            `json:"total"`
	OK        int            `json:"ok"`
	Failed    int            `json:"failed"`
	Failures  map[string]int `json:"failures"` // failed requests by kind
	// Resent counts requests sent again because the server closed their
	// reused keep-alive connection before any answer (as browsers and
	// curl resend); they are not failures, but the race stays visible.
	Resent        int            `json:"resent"`
	Errors        []string       `json:"errors"` // the first few, verbatim
	ThroughputRPS float64        `json:"throughput_rps"`
	ThroughputMBs float64        `json:"throughput_mb_s"` // secret bytes of successful requests, 10^6 bytes/s
	Latency       LatencyMs      `json:"latency_ms"`
	PerNode       map[string]int `json:"per_node"`
	Interrupted   bool           `json:"interrupted"` // stopped by SIGINT/SIGTERM before its budget
}

// LatencyMs are nearest-rank percentiles of successful requests'
// latency, in milliseconds.
type LatencyMs struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}
