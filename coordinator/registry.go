package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// NodeMetrics are a node's live figures, refreshed in the registry.
type NodeMetrics struct {
	CPUPct     float64 `json:"cpu_pct"`      // this process, % of one core
	MemPct     float64 `json:"mem_pct"`      // this process's RSS, % of host memory
	HostCPUPct float64 `json:"host_cpu_pct"` // whole host, % of all cores
	HostMemPct float64 `json:"host_mem_pct"` // whole host, % of memory in use
	RSSBytes   uint64  `json:"rss_bytes"`
	QPS1m      float64 `json:"qps_1m"` // requests per second over the last minute
	P95Ms      float64 `json:"p95_ms"` // 95th percentile latency over the last minute
	InFlight   int     `json:"in_flight"`
	QueueDepth int     `json:"queue_depth"`
}

// NodeInfo is a node's registry entry.
type NodeInfo struct {
	ID        string      `json:"id"`
	IP        string      `json:"ip"`
	HTTPPort  int         `json:"http_port"`
	RaftPort  int         `json:"raft_port"`
	Version   string      `json:"version"`
	StartedAt time.Time   `json:"started_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	Paused    bool        `json:"paused"`
	Metrics   NodeMetrics `json:"metrics"`
}

// Registry keeps this node's entry under NodesPrefix alive under its own
// lease: the entry disappears within the lease TTL of the node dying.
type Registry struct {
	client   *clientv3.Client
	ttl      int64
	interval time.Duration
}

// NewRegistry makes a registry writer with the given lease TTL (seconds)
// and refresh interval.
func NewRegistry(client *clientv3.Client, ttl int64, interval time.Duration) *Registry {
	return &Registry{client: client, ttl: max(ttl, 1), interval: interval}
}

// Run writes info() now and every interval until ctx ends, then deletes
// the entry (revoking its lease) and returns nil. A lost lease is
// replaced by a new one on the next refresh.
func (r *Registry) Run(ctx context.Context, info func() NodeInfo) error {
	ticker := time.NewTicker(r.interval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		r.runLease(ctx, info, ticker.C)
		select { // a failed lease: try again on the next tick
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
	return nil
}

// runLease keeps the entry under one lease until a write fails or ctx
// ends, then revokes the lease (deleting the entry).
func (r *Registry) runLease(ctx context.Context, info func() NodeInfo, tick <-chan time.Time) {
	grant, err := r.client.Grant(ctx, r.ttl)
	if err != nil {
		return
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = r.client.Revoke(rctx, grant.ID)
	}()
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := r.client.KeepAlive(kctx, grant.ID)
	if err != nil {
		return
	}
	go func() {
		for range ch { // drained until the lease or kctx ends
		}
	}()
	for {
		if err := r.put(ctx, info(), grant.ID); err != nil {
			return // most likely the lease expired: start over
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

func (r *Registry) put(ctx context.Context, n NodeInfo, lease clientv3.LeaseID) error {
	n.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("coordinator: encode node info: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	if _, err := r.client.Put(rctx, NodeKey(n.ID), string(b), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("coordinator: register node %s: %w", n.ID, err)
	}
	return nil
}

// Nodes reads every live registry entry.
func Nodes(ctx context.Context, client *clientv3.Client) ([]NodeInfo, error) {
	resp, err := client.Get(ctx, NodesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("coordinator: read registry: %w", err)
	}
	nodes := make([]NodeInfo, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var n NodeInfo
		if err := json.Unmarshal(kv.Value, &n); err == nil {
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}
