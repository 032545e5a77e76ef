package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/stego"
	"github.com/stegocluster/stegocluster/wire"
	"github.com/stegocluster/stegocluster/worker"
)

// Cluster is what the API needs of the node's coordination.
// *coordinator.Node provides it; tests use fakes.
type Cluster interface {
	// State is the latest published cluster state, or nil before one.
	State() *wire.ClusterState
	// Subscribe delivers each new state (the latest only, to a slow
	// reader) until the returned function is called.
	Subscribe() (<-chan *wire.ClusterState, func())
	// SubscribeProbes delivers the node's latest probe of every node's
	// /healthz after each of its sweeps until the returned function is
	// called.
	SubscribeProbes() (<-chan map[string]wire.NodeProbe, func())
	// Leadership is this node's own view of its role, and
	// LeadershipChanges how often it changed.
	Leadership() coordinator.Leadership
	LeadershipChanges() uint64
	// Ready returns nil when the etcd member serves linearizable reads.
	Ready(ctx context.Context) error
	// Fault injection: Pause until Resume (the API then refuses stego
	// calls and health checks), and CrashSoon.
	Pause()
	Resume()
	Paused() bool
	CrashSoon()
}

//go:embed assets/cover.png
var builtinCoverPNG []byte

// Config configures the API. New takes each zero field from
// DefaultConfig.
type Config struct {
	NodeID     string
	Version    string
	Cluster    Cluster
	Pool       *worker.Pool
	Requests   *RequestWindow // where the last minute's latencies go (a new one when nil)
	AdminToken string         // empty: a random one is generated and logged once
	MaxUpload  int64          // request body limit, bytes
	MaxPixels  int64          // image pixel cap
	JobTimeout time.Duration  // longest a stego job may run
	Logger     *slog.Logger
}

// DefaultConfig holds the API's defaults.
func DefaultConfig() Config {
	return Config{MaxUpload: 50 << 20, MaxPixels: stego.DefaultMaxPixels, JobTimeout: time.Minute}
}

// Server is the node's HTTP API.
type Server struct {
	cfg      Config
	cover    *stego.Image // decoded once; never modified (Embed copies)
	metrics  *metrics
	draining atomic.Bool
	engine   *gin.Engine
}

// New builds the API. It decodes the built-in cover once.
func New(cfg Config) (*Server, error) {
	def := DefaultConfig()
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = def.MaxUpload
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = def.MaxPixels
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = def.JobTimeout
	}
	if cfg.Requests == nil {
		cfg.Requests = &RequestWindow{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AdminToken == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("api: admin token: %w", err)
		}
		cfg.AdminToken = hex.EncodeToString(b)
		cfg.Logger.Warn("ADMIN_TOKEN not set; generated one for this run", "admin_token", cfg.AdminToken)
	}
	cover, err := stego.Decode(builtinCoverPNG, 0)
	if err != nil {
		return nil, fmt.Errorf("api: built-in cover: %w", err)
	}
	s := &Server{cfg: cfg, cover: cover}
	s.metrics = newMetrics(cfg.Pool, cfg.Cluster)
	s.engine = s.routes()
	return s, nil
}

// Handler is the HTTP handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

// Drain makes /healthz and new stego requests answer 503 so the load
// balancer moves traffic away; requests already running finish.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.recoverJSON, s.requestID, s.cors, s.observe)
	r.NoRoute(func(c *gin.Context) {
		fail(c, &apiError{http.StatusNotFound, codeNotFound, "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path, nil})
	})
	r.NoMethod(func(c *gin.Context) {
		fail(c, &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, "method not allowed", nil})
	})

	stegoAPI := r.Group("/api", s.limitBody, s.refuseUnlessServing)
	stegoAPI.POST("/embed", s.embed)
	stegoAPI.POST("/extract", s.extract)
	stegoAPI.POST("/capacity", s.capacity)
	stegoAPI.POST("/analyze", s.analyze)
	r.GET("/api/dataset/:index", s.dataset)

	r.GET("/cluster/status", s.clusterStatus)
	r.GET("/cluster/events", s.clusterEvents)
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	gatherers := prometheus.Gatherers{s.metrics.registry, prometheus.DefaultGatherer}
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{})))

	admin := r.Group("/admin", s.requireAdmin)
	admin.POST("/fail", s.adminFail)
	admin.POST("/restore", s.adminRestore)
	admin.POST("/nodes/:id/fail", s.adminNode("fail"))
	admin.POST("/nodes/:id/restore", s.adminNode("restore"))

	s.webRoutes(r)
	return r
}

const requestIDKey = "request_id"

func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if id == "" || len(id) > 128 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Header("X-Node-ID", s.cfg.NodeID)
	c.Next()
}

// cors lets a GUI served from another origin (another node, a dev
// server) call this node.
func (s *Server) cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, X-Request-ID")
	h.Set("Access-Control-Expose-Headers", "X-Request-ID, X-Node-ID, Content-Disposition, Retry-After")
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

func (s *Server) recoverJSON(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.cfg.Logger.Error("panic serving request", "path", c.Request.URL.Path, "panic", v)
			fail(c, errors.New("panic"))
		}
	}()
	c.Next()
}

func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	elapsed := time.Since(start)
	s.metrics.observe(route, c.Request.Method, c.Writer.Status(), elapsed.Seconds(), max(c.Request.ContentLength, 0), int64(max(c.Writer.Size(), 0)))
	if strings.HasPrefix(route, "/api/") {
		s.cfg.Requests.Observe(start, elapsed)
	}
}

func (s *Server) limitBody(c *gin.Context) {
	// Multipart framing needs a little room beyond the file itself.
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxUpload+64<<10)
	c.Next()
}

// refuseUnlessServing answers 503 while the node drains or is paused.
func (s *Server) refuseUnlessServing(c *gin.Context) {
	if err := s.serving(); err != nil {
		fail(c, err)
		return
	}
	c.Next()
}

// serving returns nil, or the 503 a draining or paused node answers.
func (s *Server) serving() error {
	switch {
	case s.draining.Load():
		return errDraining
	case s.cfg.Cluster.Paused():
		return errPaused
	}
	return nil
}

func (s *Server) requireAdmin(c *gin.Context) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
		fail(c, &apiError{http.StatusUnauthorized, codeUnauthorized, "admin token required (Authorization: Bearer …)", nil})
		return
	}
	c.Next()
}
