// Command stegod is a stegocluster node: an embedded etcd member, the
// leader election, the stego workers and the HTTP API in one process.
// With no settings it is a working single-node cluster on :8080 with its
// data under ./data; every setting is an environment variable (see the
// README's settings table).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/stegocluster/stegocluster/api"
	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/worker"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// settings are read from the environment; the README lists them.
type settings struct {
	NodeID          string        `envconfig:"NODE_ID" default:"node1"`
	HTTPAddr        string        `envconfig:"HTTP_ADDR" default:":8080"`
	AdvertiseIP     string        `envconfig:"ADVERTISE_IP" default:"127.0.0.1"`
	DataDir         string        `envconfig:"DATA_DIR" default:"./data"`
	PeerURL         string        `envconfig:"PEER_URL" default:"http://127.0.0.1:2380"`
	ClientURL       string        `envconfig:"CLIENT_URL" default:"http://127.0.0.1:2379"`
	InitialCluster  string        `envconfig:"INITIAL_CLUSTER"`
	ClusterToken    string        `envconfig:"CLUSTER_TOKEN" default:"stegocluster"`
	ClusterState    string        `envconfig:"INITIAL_CLUSTER_STATE" default:"new"`
	TickMs          uint          `envconfig:"ETCD_TICK_MS" default:"50"`
	ElectionMs      uint          `envconfig:"ETCD_ELECTION_MS" default:"250"`
	LeaseTTL        int           `envconfig:"LEASE_TTL" default:"1"`
	KeepAlive       time.Duration `envconfig:"KEEPALIVE_INTERVAL" default:"50ms"`
	ReadyTimeout    time.Duration `envconfig:"ETCD_READY_TIMEOUT" default:"60s"`
	ProbeEvery      time.Duration `envconfig:"PROBE_INTERVAL" default:"50ms"`
	SuspectAfter    time.Duration `envconfig:"SUSPECT_AFTER" default:"150ms"`
	SuspectSlow     time.Duration `envconfig:"SUSPECT_SLOW_AFTER" default:"400ms"`
	Workers         int           `envconfig:"WORKERS"`
	Queue           int           `envconfig:"QUEUE" default:"16"`
	MaxUploadMB     int64         `envconfig:"MAX_UPLOAD_MB" default:"50"`
	MaxPixels       int64         `envconfig:"MAX_PIXELS" default:"50000000"`
	JobTimeout      time.Duration `envconfig:"JOB_TIMEOUT" default:"60s"`
	AdminToken      string        `envconfig:"ADMIN_TOKEN"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"8s"`
	MemoryLimitMB   int64         `envconfig:"MEMORY_LIMIT_MB" default:"768"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
}

func main() {
	var s settings
	if err := envconfig.Process("", &s); err != nil {
		fmt.Fprintf(os.Stderr, "stegod: settings: %v\n", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: s.LogLevel})).With("node", s.NodeID)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, s, logger); err != nil {
		logger.Error("stegod failed", "err", err)
		os.Exit(1)
	}
}

// run starts the node and serves until ctx ends, then shuts down in
// order: stop taking traffic, finish in-flight requests, resign, close
// etcd. It returns once everything has stopped.
func run(ctx context.Context, s settings, logger *slog.Logger) error {
	if s.Workers <= 0 {
		s.Workers = runtime.GOMAXPROCS(0)
	}
	if s.MemoryLimitMB > 0 {
		// A soft limit: the collector works harder as the heap nears it,
		// which keeps bursts of large uploads from doubling the RSS.
		debug.SetMemoryLimit(s.MemoryLimitMB << 20)
	}
	faults := &worker.Faults{Exit: func() {
		logger.Warn("crash requested through /admin/fail: exiting now")
		os.Exit(3)
	}}
	pool := worker.NewPool(s.Workers, s.Queue, faults)

	var srv atomic.Pointer[api.Server]
	stats := &sysStats{}
	statsCtx, stopStats := context.WithCancel(context.Background())
	defer stopStats()
	go stats.run(statsCtx)
	started := time.Now().UTC()
	httpPort, raftPort := portOf(s.HTTPAddr), portOf(s.PeerURL)

	node, err := coordinator.Start(ctx, coordinator.Config{
		Member: coordinator.MemberConfig{
			Name: s.NodeID, DataDir: filepath.Join(s.DataDir, "etcd"),
			PeerURL: s.PeerURL, ClientURL: s.ClientURL,
			InitialCluster: s.InitialCluster, ClusterToken: s.ClusterToken, ClusterState: s.ClusterState,
			TickMs: s.TickMs, ElectionMs: s.ElectionMs, ReadyTimeout: s.ReadyTimeout,
		},
		LeaseTTL:         s.LeaseTTL,
		KeepAliveEvery:   s.KeepAlive,
		ProbeEvery:       s.ProbeEvery,
		SuspectAfter:     s.SuspectAfter,
		SuspectSlowAfter: s.SuspectSlow,
		OnDepose: func(leader string, silent time.Duration) {
			logger.Warn("deposed a silent leader (revoked its election lease)", "leader", leader, "silent", silent)
		},
		OnLeadership: func(l coordinator.Leadership) {
			logger.Info("leadership changed", "leader", l.IsLeader, "epoch", l.Epoch)
			if a := srv.Load(); a != nil {
				a.ObserveLeadership(l)
			}
		},
	}, func() coordinator.NodeInfo {
		cpu, mem, hostCPU, hostMem, rss := stats.snapshot()
		info := coordinator.NodeInfo{ID: s.NodeID, IP: s.AdvertiseIP, HTTPPort: httpPort, RaftPort: raftPort,
			Version: version, StartedAt: started, Paused: faults.Paused(),
			Metrics: coordinator.NodeMetrics{CPUPct: cpu, MemPct: mem, HostCPUPct: hostCPU, HostMemPct: hostMem, RSSBytes: rss}}
		if a := srv.Load(); a != nil {
			info.Metrics.QPS1m, info.Metrics.P95Ms, info.Metrics.InFlight, info.Metrics.QueueDepth = a.Load()
		}
		return info
	})
	if err != nil {
		return fmt.Errorf("start coordination: %w", err)
	}
	closeNode := sync.OnceFunc(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := node.Close(cctx); err != nil {
			logger.Warn("closing coordination", "err", err)
		}
	})
	defer closeNode()
	faults.OnChange = func(paused bool) {
		logger.Warn("fault injection", "paused", paused)
		if paused {
			node.Elector.Pause()
		} else {
			node.Elector.Resume()
		}
	}

	a, err := api.New(api.Config{
		NodeID: s.NodeID, Version: version, Cluster: api.NodeCluster(node), Pool: pool,
		AdminToken: s.AdminToken, MaxUpload: s.MaxUploadMB << 20, MaxPixels: s.MaxPixels,
		JobTimeout: s.JobTimeout, Logger: logger,
	})
	if err != nil {
		return err
	}
	srv.Store(a)
	a.ObserveLeadership(node.Elector.Leadership())

	ln, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.HTTPAddr, err)
	}
	httpServer := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	logger.Info("serving", "http", ln.Addr().String(), "peer", s.PeerURL, "client", s.ClientURL, "data", s.DataDir, "workers", s.Workers)

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		return fmt.Errorf("http: %w", err)
	case err := <-node.Member.Err():
		return fmt.Errorf("etcd member: %w", err)
	}
	// Leadership is resigned first, so a successor takes over at once
	// rather than after the drain (under load that was 400 ms); health
	// checks fail so the balancer stops sending; requests already here
	// finish within the timeout; then etcd closes.
	node.Elector.Pause()
	a.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	if err := httpServer.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("http shutdown", "err", err)
	}
	closeNode()
	logger.Info("stopped")
	return nil
}

// portOf extracts the port of "host:port" or a URL, 0 if none.
func portOf(addr string) int {
	if u, err := url.Parse(addr); err == nil && u.Port() != "" {
		addr = u.Host
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
