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
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stegocluster/stegocluster/api"
	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/wire"
	"github.com/stegocluster/stegocluster/worker"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	s, err := fromEnvironment()
	if err != nil {
		fmt.Fprintf(os.Stderr, "stegod: settings: %v\n", err)
		os.Exit(2)
	}
	hostname, _ := os.Hostname()
	isSet := func(name string) bool { _, ok := os.LookupEnv(name); return ok }
	if err := s.fillWorkerIdentity(isSet, hostname, net.LookupHost, sourceAddrToward); err != nil {
		fmt.Fprintf(os.Stderr, "stegod: settings: %v\n", err)
		os.Exit(2)
	}
	s.fillMemberAddress(isSet, net.LookupHost)
	if err := s.check(); err != nil {
		fmt.Fprintf(os.Stderr, "stegod: settings: %v\n", err)
		os.Exit(2)
	}
	s.defaultWorkers() // before the spare P below
	_, procsSet := os.LookupEnv("GOMAXPROCS")
	runtime.GOMAXPROCS(withSpareProc(runtime.GOMAXPROCS(0), procsSet))
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: s.LogLevel})).With("node", s.NodeID)
	if ignored := ignoredSettings(coordinator.Role(s.Role), isSet); len(ignored) > 0 {
		logger.Warn("settings this role does not use; they change nothing", "role", s.Role, "ignored", strings.Join(ignored, ","))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The first signal starts the orderly shutdown; a second one ends the
	// process at once (the signals' default action), for whoever will not
	// wait out the drain.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, s, logger); err != nil {
		logger.Error("stegod failed", "err", err)
		os.Exit(1)
	}
}

// withSpareProc is the GOMAXPROCS a node runs with: one more than the
// CPUs it may use (procs, the runtime's default) unless GOMAXPROCS was
// set, so that its stego jobs — one per CPU by default — never hold
// every P. The election's steps (probes, the revoke, raft in the
// embedded member, the campaign, the publication) are short goroutines;
// with every P running a stego job each waited for the scheduler's 10 ms
// preemption, and under load a new leader took a few hundred
// milliseconds longer to show (docs/failover.md). The kernel still
// shares the CPUs among all threads; the spare P lets a woken
// coordination goroutine run at once instead of queueing behind a job.
func withSpareProc(procs int, userSet bool) int {
	if userSet {
		return procs
	}
	return procs + 1
}

// run starts the node and serves until ctx ends, then shuts down in
// order: resign leadership, stop taking traffic, finish in-flight
// requests, close etcd. It returns once everything has stopped.
func run(ctx context.Context, s settings, logger *slog.Logger) error {
	if s.MemoryLimitMB > 0 {
		// A soft limit: the collector works harder as the heap nears it,
		// which keeps bursts of large uploads from doubling the RSS.
		debug.SetMemoryLimit(s.MemoryLimitMB << 20)
	}
	// Before etcd starts: a node that cannot have a token stops at once.
	adminToken, err := s.adminToken(logger)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	pool := worker.NewPool(s.Workers, s.Queue)
	requests := &api.RequestWindow{}
	stats := &sysStats{}
	statsCtx, stopStats := context.WithCancel(context.Background())
	defer stopStats()
	go stats.run(statsCtx)

	cfg := s.coordination()
	cfg.Version = version
	cfg.Logger = logger
	cfg.Metrics = func() wire.NodeMetrics {
		m := stats.snapshot()
		m.QPS1m, m.P95Ms = requests.Stats(time.Now())
		m.InFlight, m.QueueDepth = pool.InFlight(), pool.Queued()
		return m
	}
	node, err := coordinator.Start(ctx, cfg)
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

	a, err := api.New(api.Config{
		NodeID: s.NodeID, Version: version, Cluster: node, Pool: pool, Requests: requests,
		AdminToken: adminToken, RegistryTrusted: s.TLSDir != "", MaxUpload: s.MaxUploadMB << 20, MaxPixels: s.MaxPixels,
		JobTimeout: s.JobTimeout, MaxEventStreams: s.MaxEventStreams, MemoryBudget: s.MemoryBudgetMB << 20, Logger: logger,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.HTTPAddr, err)
	}
	httpServer := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	if coordinator.Role(s.Role) == coordinator.RoleWorker {
		logger.Info("serving as a worker", "http", ln.Addr().String(), "advertise", s.AdvertiseIP, "etcd", s.Endpoints, "workers", s.Workers, "gomaxprocs", runtime.GOMAXPROCS(0))
	} else {
		logger.Info("serving", "http", ln.Addr().String(), "peer", s.PeerURL, "client", s.ClientURL, "data", s.DataDir, "workers", s.Workers, "gomaxprocs", runtime.GOMAXPROCS(0))
	}
	switch {
	case s.TLSDir != "":
		logger.Info("etcd speaks mutual TLS", "certificates", s.TLSDir)
	case s.AllowPlaintext:
		logger.Warn("etcd is plaintext and unauthenticated (ETCD_ALLOW_PLAINTEXT): keep its ports on a network only the nodes reach")
	default:
		logger.Info("etcd is plaintext on loopback: only this machine reaches it (ETCD_TLS_DIR for mutual TLS)")
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		return fmt.Errorf("http: %w", err)
	case err := <-node.Err():
		return fmt.Errorf("etcd member: %w", err)
	}
	// Leadership is resigned first, so a successor takes over at once
	// rather than after the drain (under load that was 400 ms); health
	// checks fail so the balancer stops sending; requests already here
	// finish within the timeout; then etcd closes.
	node.Resign()
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
