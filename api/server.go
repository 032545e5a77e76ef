package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	// A state is never modified once returned (GET /cluster/status
	// keeps its encoding by pointer).
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
	// Ready returns nil when the node's etcd client gets linearizable
	// reads; for a worker that reaches no member, an error wrapping
	// coordinator.ErrDegraded.
	Ready(ctx context.Context) error
	// Degraded says why the node serves without coordination (a worker
	// cut off from every member), or "".
	Degraded() string
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
	AdminToken string         // bearer token for /admin/; required (New refuses an empty one)
	// RegistryTrusted says the registry can be written only by holders
	// of the cluster's certificates (etcd speaks mutual TLS): a worker's
	// entry is then as trustworthy as etcd's member list, and admin calls
	// for a worker are forwarded to the address it registered. Without
	// it they are refused (403 not_member): a forged entry could point
	// anywhere.
	RegistryTrusted bool
	MaxUpload       int64         // request body limit, bytes
	MaxPixels       int64         // image pixel cap
	JobTimeout      time.Duration // longest a stego job may run
	// MaxEventStreams caps the GET /cluster/events streams open at once;
	// beyond it the node answers 503 (each stream holds a goroutine and
	// two subscriptions for as long as the client stays).
	MaxEventStreams int
	// TrustedProxies are the addresses (IPs or CIDRs) whose
	// X-Forwarded-For is believed when telling clients apart for the
	// admin rate limit; nil: DefaultConfig's.
	TrustedProxies []string
	// MemoryBudget is the bytes the node's stego requests may hold at
	// once: uploads as they arrive, decoded images, answers as they are
	// encoded (docs/security.md has the formula). A request that does not
	// fit waits up to BudgetWait, then gets 503.
	MemoryBudget int64
	BudgetWait   time.Duration
	// A request body that stalls for BodyIdleTimeout, or is still
	// arriving BodyTimeout after the request began, is cut off.
	BodyIdleTimeout time.Duration
	BodyTimeout     time.Duration
	Logger          *slog.Logger
}

// DefaultConfig holds the API's defaults.
//
// The trusted proxies are loopback and the private ranges, where a
// reverse proxy in front of the nodes lives (nginx on the same host
// with compose/cluster.sh, on the compose network with Docker): behind
// it, the client is the address nginx puts in X-Forwarded-For, so one
// client's failures do not lock every client out. The price is that a
// client that reaches a node directly from those ranges can choose the
// address it is counted under.
func DefaultConfig() Config {
	return Config{
		MaxUpload: 50 << 20, MaxPixels: stego.DefaultMaxPixels, JobTimeout: time.Minute,
		MaxEventStreams: 100,
		MemoryBudget:    512 << 20,
		BudgetWait:      time.Second,
		BodyIdleTimeout: 10 * time.Second,
		BodyTimeout:     5 * time.Minute,
		TrustedProxies:  []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"},
	}
}

// Server is the node's HTTP API.
type Server struct {
	cfg   Config
	cover *stego.Image // decoded once; never modified (embed hides in copies)
	// coverCopies and answers recycle embed's two big buffers, a copy of
	// the built-in cover (1.8 MB) and the encoded answer (up to 2 MB):
	// allocated afresh they were two-thirds of what a hide allocates, and
	// the collections they caused cost about a tenth of its CPU
	// (docs/performance.md, "CPU per hide").
	coverCopies sync.Pool // *stego.Image
	answers     sync.Pool // *bytes.Buffer
	metrics     *metrics
	draining    atomic.Bool
	engine      *gin.Engine
	// streamSlots holds one value per open /cluster/events stream.
	streamSlots chan struct{}
	// adminFailures limits wrong admin tokens per client address.
	adminFailures *failureLimiter
	// budget is the memory the stego requests hold (Config.MemoryBudget).
	budget *worker.Budget
	// status is GET /cluster/status's last answer.
	status statusCache
}

// orDefault sets *v to def unless *v is positive.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// New builds the API. It decodes the built-in cover once. It refuses an
// empty admin token: choosing one (from the environment, a file, or
// generated), and how long it must be, is the caller's job
// (cmd/stegod), so that no token is made up, or logged, here.
func New(cfg Config) (*Server, error) {
	def := DefaultConfig()
	orDefault(&cfg.MaxUpload, def.MaxUpload)
	orDefault(&cfg.MaxPixels, def.MaxPixels)
	orDefault(&cfg.JobTimeout, def.JobTimeout)
	orDefault(&cfg.MemoryBudget, def.MemoryBudget)
	orDefault(&cfg.BudgetWait, def.BudgetWait)
	orDefault(&cfg.BodyIdleTimeout, def.BodyIdleTimeout)
	orDefault(&cfg.BodyTimeout, def.BodyTimeout)
	orDefault(&cfg.MaxEventStreams, def.MaxEventStreams)
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies = def.TrustedProxies
	}
	if cfg.Requests == nil {
		cfg.Requests = &RequestWindow{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("api: no admin token (Config.AdminToken is empty)")
	}
	cover, err := stego.Decode(builtinCoverPNG, 0)
	if err != nil {
		return nil, fmt.Errorf("api: built-in cover: %w", err)
	}
	cover.Public = true
	s := &Server{
		cfg: cfg, cover: cover,
		streamSlots:   make(chan struct{}, cfg.MaxEventStreams),
		budget:        worker.NewBudget(cfg.MemoryBudget, cfg.BudgetWait),
		adminFailures: newFailureLimiter(adminFailureBurst, adminFailureEvery, maxLimitedClients),
	}
	s.metrics = newMetrics(cfg.Pool, cfg.Cluster)
	s.engine = s.routes()
	// Only X-Forwarded-For, which nginx sets: X-Real-IP would pass
	// through nginx as the client sent it.
	s.engine.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := s.engine.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("api: trusted proxies: %w", err)
	}
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
	r.Use(s.recoverJSON, s.requestID, s.securityHeaders, s.cors, s.observe)
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

	// Monitoring answers HEAD as well (uptime checkers use it): the
	// status without the body.
	gatherers := prometheus.Gatherers{s.metrics.registry, prometheus.DefaultGatherer}
	for path, h := range map[string]gin.HandlerFunc{
		"/cluster/status": s.clusterStatus,
		"/healthz":        s.healthz,
		"/readyz":         s.readyz,
		"/metrics":        gin.WrapH(promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{})),
	} {
		r.Match([]string{http.MethodGet, http.MethodHead}, path, h)
	}
	r.GET("/cluster/events", s.clusterEvents)

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

// securityHeaders keeps browsers from guessing a response's type: an
// extracted secret or an error must never be run as a script or page.
func (s *Server) securityHeaders(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// isAdminPath reports whether path is under /admin/.
func isAdminPath(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/")
}

// cors lets a GUI served from another origin (another node, a dev
// server) call this node's stego API and cluster status. /admin/ is
// left out: it answers no preflight and carries no Access-Control
// headers, so a browser refuses cross-origin admin calls and a page on
// another site cannot use a token the user typed into ours; the web app
// calls /admin/ from its own origin, which needs no CORS.
func (s *Server) cors(c *gin.Context) {
	if isAdminPath(c.Request.URL.Path) {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	// No Authorization: nothing outside /admin/ reads it.
	h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, X-Request-ID")
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

// requireAdmin lets a request with the admin token through. Wrong or
// missing tokens are counted per client address (c.ClientIP, see
// Config.TrustedProxies): once a client has used up its allowance every
// admin call from it gets 429 with Retry-After, right token or not,
// until its allowance refills, so guessing costs time. Right tokens
// consume nothing. A call one node forwards to another
// (adminNode) has already passed this check with the same token on the
// first node, so it does not fail on the second.
func (s *Server) requireAdmin(c *gin.Context) {
	client, now := c.ClientIP(), time.Now()
	if wait := s.adminFailures.wait(client, now); wait > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		fail(c, &apiError{http.StatusTooManyRequests, codeTooManyRequests, "too many wrong admin tokens from this address; retry later", nil})
		return
	}
	auth := c.GetHeader("Authorization")
	if s.forwardedToMe(c, auth, now) {
		c.Next()
		return
	}
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
		// Only a call that presents a credential counts against its
		// address. One without (a form or no-cors fetch from any web
		// page the operator has open, which a browser sends with no
		// preflight) would otherwise lock the operator out from their
		// own address; a page cannot add an Authorization header
		// cross-origin without a preflight, which /admin/ refuses.
		if auth != "" {
			s.adminFailures.fail(client, now)
		}
		msg := "admin token required (Authorization: Bearer …)"
		if ok {
			msg = "wrong admin token"
			// For the operator: someone is trying tokens. Each address
			// gets only a few tries (adminFailures), so this is no flood.
			s.cfg.Logger.Warn("admin call with a wrong token", "client", client, "path", c.Request.URL.Path)
		}
		fail(c, &apiError{http.StatusUnauthorized, codeUnauthorized, msg, nil})
		return
	}
	c.Next()
}

// forwardedToMe reports whether auth is another node's credential for
// this very call: POST /admin/nodes/<this node>/<action> with this body.
// The body (at most maxFieldBytes, as forwardAdmin sends) is read to be
// checked and put back for the handler.
func (s *Server) forwardedToMe(c *gin.Context, auth string, now time.Time) bool {
	if c.Param("id") != s.cfg.NodeID || !strings.HasPrefix(auth, forwardAuthScheme) {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxFieldBytes))
	if err != nil {
		return false
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	action := c.FullPath()[strings.LastIndexByte(c.FullPath(), '/')+1:]
	return validForwardCredential(s.cfg.AdminToken, s.cfg.NodeID, action, body, auth, now)
}
