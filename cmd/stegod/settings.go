package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/stegocluster/stegocluster/api"
	"github.com/stegocluster/stegocluster/coordinator"
)

// settings are read from the environment; the README's settings table
// lists them, and TestREADMESettingsTable checks that table against
// defaultSettings. The struct tags name the variables only: defaults
// come from defaultSettings, which takes them from coordinator and api,
// so each default is written once.
type settings struct {
	Role            string        `envconfig:"ROLE"`
	NodeID          string        `envconfig:"NODE_ID"`
	HTTPAddr        string        `envconfig:"HTTP_ADDR"`
	AdvertiseIP     string        `envconfig:"ADVERTISE_IP"`
	DataDir         string        `envconfig:"DATA_DIR"`
	PeerURL         string        `envconfig:"PEER_URL"`
	ClientURL       string        `envconfig:"CLIENT_URL"`
	Endpoints       []string      `envconfig:"ETCD_ENDPOINTS"` // a worker's members
	TLSDir          string        `envconfig:"ETCD_TLS_DIR"`   // empty: plaintext etcd
	AllowPlaintext  bool          `envconfig:"ETCD_ALLOW_PLAINTEXT"`
	InitialCluster  string        `envconfig:"INITIAL_CLUSTER"`
	ClusterToken    string        `envconfig:"CLUSTER_TOKEN"`
	ClusterState    string        `envconfig:"INITIAL_CLUSTER_STATE"`
	TickMs          uint          `envconfig:"ETCD_TICK_MS"`
	ElectionMs      uint          `envconfig:"ETCD_ELECTION_MS"`
	LeaseTTL        int           `envconfig:"LEASE_TTL"`
	KeepAlive       time.Duration `envconfig:"KEEPALIVE_INTERVAL"`
	ReadyTimeout    time.Duration `envconfig:"ETCD_READY_TIMEOUT"`
	ProbeEvery      time.Duration `envconfig:"PROBE_INTERVAL"`
	SuspectAfter    time.Duration `envconfig:"SUSPECT_AFTER"`
	SuspectSlow     time.Duration `envconfig:"SUSPECT_SLOW_AFTER"`
	Workers         int           `envconfig:"WORKERS"` // 0: one per CPU
	Queue           int           `envconfig:"QUEUE"`
	MaxUploadMB     int64         `envconfig:"MAX_UPLOAD_MB"`
	MaxPixels       int64         `envconfig:"MAX_PIXELS"`
	JobTimeout      time.Duration `envconfig:"JOB_TIMEOUT"`
	AdminToken      string        `envconfig:"ADMIN_TOKEN"` // empty: generated into $DATA_DIR/admin-token
	MaxEventStreams int           `envconfig:"MAX_EVENT_STREAMS"`
	MemoryBudgetMB  int64         `envconfig:"MEMORY_BUDGET_MB"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT"`
	MemoryLimitMB   int64         `envconfig:"MEMORY_LIMIT_MB"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL"`
}

// defaultSettings are a working one-node cluster on :8080 with its data
// under ./data: what `go run ./cmd/stegod` runs.
// defaultWorkers gives WORKERS its default when unset: one stego job per
// CPU the process may use. main calls it before it raises GOMAXPROCS for
// the spare processor, which must not add a job.
func (s *settings) defaultWorkers() {
	if s.Workers <= 0 {
		s.Workers = runtime.GOMAXPROCS(0)
	}
}

// fromEnvironment reads the settings over the defaults. A value that does
// not parse is reported with the variable and what it wants, not with
// envconfig's Go types.
func fromEnvironment() (settings, error) {
	s := defaultSettings()
	if err := envconfig.Process("", &s); err != nil {
		var pe *envconfig.ParseError
		if !errors.As(err, &pe) {
			return s, err
		}
		want := map[string]string{
			"time.Duration": "a duration such as 500ms or 2s",
			"slog.Level":    "debug, info, warn or error",
			"bool":          "true or false",
			"int":           "a whole number",
			"int64":         "a whole number",
			"uint":          "a whole number, 0 or more",
		}[pe.TypeName]
		if want == "" {
			want = "a " + pe.TypeName
		}
		return s, fmt.Errorf("%s=%q: want %s", pe.KeyName, pe.Value, want)
	}
	return s, nil
}

// isPort reports whether p is a port net.Listen takes: a number (0
// lets the system choose) or a service name such as http.
func isPort(p string) bool {
	_, err := net.LookupPort("tcp", p)
	return err == nil
}

func defaultSettings() settings {
	c, a := coordinator.DefaultConfig(), api.DefaultConfig()
	return settings{
		Role:            string(c.Role),
		NodeID:          c.Member.Name,
		HTTPAddr:        ":8080",
		AdvertiseIP:     c.AdvertiseIP,
		DataDir:         strings.TrimSuffix(c.Member.DataDir, "/etcd"),
		PeerURL:         c.Member.PeerURL,
		ClientURL:       c.Member.ClientURL,
		ClusterToken:    c.Member.ClusterToken,
		ClusterState:    c.Member.ClusterState,
		TickMs:          c.Member.TickMs,
		ElectionMs:      c.Member.ElectionMs,
		LeaseTTL:        c.LeaseTTL,
		KeepAlive:       c.KeepAliveEvery,
		ReadyTimeout:    c.Member.ReadyTimeout,
		ProbeEvery:      c.ProbeEvery,
		SuspectAfter:    c.SuspectAfter,
		SuspectSlow:     c.SuspectSlowAfter,
		Queue:           16,
		MaxUploadMB:     a.MaxUpload >> 20,
		MaxPixels:       a.MaxPixels,
		JobTimeout:      a.JobTimeout,
		MaxEventStreams: a.MaxEventStreams,
		MemoryBudgetMB:  a.MemoryBudget >> 20,
		ShutdownTimeout: 8 * time.Second,
		MemoryLimitMB:   768,
		LogLevel:        slog.LevelInfo,
	}
}

// coordination is the coordinator's part of the settings.
func (s settings) coordination() coordinator.Config {
	c := coordinator.DefaultConfig()
	c.Member = coordinator.MemberConfig{
		Name: s.NodeID, DataDir: filepath.Join(s.DataDir, "etcd"),
		PeerURL: s.PeerURL, ClientURL: s.ClientURL,
		InitialCluster: s.InitialCluster, ClusterToken: s.ClusterToken, ClusterState: s.ClusterState,
		TickMs: s.TickMs, ElectionMs: s.ElectionMs, ReadyTimeout: s.ReadyTimeout,
		QuotaBytes: c.Member.QuotaBytes,
	}
	if s.TLSDir != "" {
		c.Member.TLS = coordinator.TLSDir(s.TLSDir)
	}
	c.Role = coordinator.Role(s.Role)
	c.Endpoints = s.Endpoints
	c.LeaseTTL = s.LeaseTTL
	c.KeepAliveEvery = s.KeepAlive
	c.ProbeEvery = s.ProbeEvery
	c.SuspectAfter = s.SuspectAfter
	c.SuspectSlowAfter = s.SuspectSlow
	c.AdvertiseIP = s.AdvertiseIP
	c.HTTPPort = portOf(s.HTTPAddr)
	return c
}

// minAdminTokenLen is the shortest admin token stegod accepts: 16
// random characters are out of reach of guessing at the pace the API
// allows wrong tokens, while "admin" or "change-me" are not.
const minAdminTokenLen = 16

// adminTokenFile is where, under DATA_DIR, a node keeps the admin token
// it generated when ADMIN_TOKEN was not set.
const adminTokenFile = "admin-token"

// check refuses settings the node must not start with.
func (s settings) check() error {
	if err := s.checkNumbers(); err != nil {
		return err
	}
	// Checked here, not when the listener fails: by then the node has
	// started etcd and may have taken leadership.
	if _, port, err := net.SplitHostPort(s.HTTPAddr); err != nil || !isPort(port) {
		return fmt.Errorf("HTTP_ADDR=%q: want [host]:port, such as :8080 or 127.0.0.1:8080", s.HTTPAddr)
	}
	if !coordinator.ValidNodeID(s.NodeID) {
		return fmt.Errorf("NODE_ID=%q: want 1-253 letters, digits, dots, hyphens or underscores (not . or ..)", s.NodeID)
	}
	if s.AdminToken != "" {
		if err := checkToken(s.AdminToken, "ADMIN_TOKEN"); err != nil {
			return err
		}
	}
	switch coordinator.Role(s.Role) {
	case coordinator.RoleMember:
		if s.TLSDir == "" && !s.AllowPlaintext {
			return checkPlaintextLoopback(append([]string{s.PeerURL, s.ClientURL}, coordinator.InitialClusterURLs(s.InitialCluster)...))
		}
	case coordinator.RoleWorker:
		if len(s.Endpoints) == 0 {
			return errors.New("ROLE=worker needs ETCD_ENDPOINTS: the members' client URLs, comma-separated")
		}
		if s.TLSDir == "" && !s.AllowPlaintext {
			return checkPlaintextLoopback(s.Endpoints)
		}
	default:
		return fmt.Errorf("ROLE=%q: want member or worker", s.Role)
	}
	return nil
}

// memberOnly are the settings of a node's etcd member and its election,
// which a worker (no member, never campaigns) does not read; workerOnly
// those a member does not read. (SUSPECT_SLOW_AFTER is not one: it is
// also the timeout of every node's probes of the others, which a
// worker's event streams report.)
var (
	memberOnly = []string{
		"PEER_URL", "CLIENT_URL", "INITIAL_CLUSTER", "CLUSTER_TOKEN", "INITIAL_CLUSTER_STATE",
		"ETCD_TICK_MS", "ETCD_ELECTION_MS", "ETCD_READY_TIMEOUT",
		"LEASE_TTL", "KEEPALIVE_INTERVAL", "PROBE_INTERVAL", "SUSPECT_AFTER",
	}
	workerOnly = []string{"ETCD_ENDPOINTS"}
)

// ignoredSettings lists the variables set in the environment that role
// does not read, so that an operator who set LEASE_TTL on a worker, or
// ETCD_ENDPOINTS on a member, hears that it changed nothing.
func ignoredSettings(role coordinator.Role, isSet func(string) bool) []string {
	others := workerOnly
	if role == coordinator.RoleWorker {
		others = memberOnly
	}
	var ignored []string
	for _, name := range others {
		if isSet(name) {
			ignored = append(ignored, name)
		}
	}
	return ignored
}

// checkNumbers refuses durations, counts and sizes that make no sense,
// rather than let a negative interval panic inside a ticker or a zero
// quietly turn a protection off.
func (s settings) checkNumbers() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"KEEPALIVE_INTERVAL", s.KeepAlive}, {"PROBE_INTERVAL", s.ProbeEvery},
		{"SUSPECT_AFTER", s.SuspectAfter}, {"SUSPECT_SLOW_AFTER", s.SuspectSlow},
		{"ETCD_READY_TIMEOUT", s.ReadyTimeout}, {"JOB_TIMEOUT", s.JobTimeout},
		{"SHUTDOWN_TIMEOUT", s.ShutdownTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s=%s: want a positive duration", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int64
		min  int64
	}{
		{"LEASE_TTL", int64(s.LeaseTTL), 1}, {"WORKERS", int64(s.Workers), 0}, {"QUEUE", int64(s.Queue), 0},
		{"MAX_UPLOAD_MB", s.MaxUploadMB, 1}, {"MAX_PIXELS", s.MaxPixels, 1}, {"MAX_EVENT_STREAMS", int64(s.MaxEventStreams), 1},
		{"MEMORY_BUDGET_MB", s.MemoryBudgetMB, 1}, {"MEMORY_LIMIT_MB", s.MemoryLimitMB, 0},
	} {
		if n.v < n.min {
			return fmt.Errorf("%s=%d: want at least %d", n.name, n.v, n.min)
		}
	}
	// The leader renews its lease every KEEPALIVE_INTERVAL and steps
	// down once a TTL has passed since the last renewal it sent: one
	// late renewal must not cost it the lease.
	if ttl := time.Duration(s.LeaseTTL) * time.Second; coordinator.Role(s.Role) == coordinator.RoleMember && 2*s.KeepAlive > ttl {
		return fmt.Errorf("KEEPALIVE_INTERVAL=%s with LEASE_TTL=%d: renew at least twice per TTL (at most %s)", s.KeepAlive, s.LeaseTTL, ttl/2)
	}
	// An extract holds the upload and reserves room for a secret as
	// large: a smaller budget would refuse every extraction of a large
	// upload with 413 while hides still work.
	if s.MemoryBudgetMB < 2*s.MaxUploadMB {
		return fmt.Errorf("MEMORY_BUDGET_MB=%d with MAX_UPLOAD_MB=%d: the budget must hold at least two uploads (%d MB), or no large upload could be extracted", s.MemoryBudgetMB, s.MaxUploadMB, 2*s.MaxUploadMB)
	}
	return nil
}

// checkPlaintextLoopback refuses plaintext etcd anywhere but loopback:
// whoever reaches a plaintext client port can rewrite the cluster's
// state, and a plaintext peer port can join its raft. A one-node
// cluster on loopback (the default) is reachable only from this machine
// and may stay plaintext.
func checkPlaintextLoopback(urls []string) error {
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("etcd URL %q: %w", raw, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("etcd URL %q: want http://HOST:PORT (or https:// with ETCD_TLS_DIR)", raw)
		}
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("etcd URL %s is not on loopback, and etcd would be plaintext and open to anyone who reaches it: "+
				"set ETCD_TLS_DIR to this node's certificates (stegoctl certs init) and use https:// URLs, "+
				"or ETCD_ALLOW_PLAINTEXT=true on a network only the nodes reach", raw)
		}
	}
	return nil
}

// checkToken says what is wrong with a token from where, without
// quoting it (errors end up in logs).
func checkToken(token, where string) error {
	if len(token) < minAdminTokenLen {
		return fmt.Errorf("%s has %d characters; an admin token needs at least %d (e.g. openssl rand -hex 16)", where, len(token), minAdminTokenLen)
	}
	return nil
}

// adminToken returns the bearer token for /admin/: ADMIN_TOKEN when set;
// otherwise the one in $DATA_DIR/admin-token, which the first start
// generates, so that a restarted node keeps its token. It logs the
// file's path, never the token: logs are read by more people, and kept
// longer, than a file only the node's user can read. Nodes of one
// cluster must share a token (an admin call forwarded to another node
// carries the caller's), so a multi-node cluster sets ADMIN_TOKEN.
func (s settings) adminToken(logger *slog.Logger) (string, error) {
	if s.AdminToken != "" {
		return s.AdminToken, checkToken(s.AdminToken, "ADMIN_TOKEN")
	}
	path := filepath.Join(s.DataDir, adminTokenFile)
	token, created, err := readOrCreateToken(path)
	if err != nil {
		return "", err
	}
	if created {
		logger.Warn("ADMIN_TOKEN not set: generated an admin token (the same on every node of a cluster: set ADMIN_TOKEN there)", "file", path)
	} else {
		logger.Info("ADMIN_TOKEN not set: using the admin token in the file", "file", path)
	}
	return token, nil
}

// readOrCreateToken reads the token in path or, when there is no such
// file, creates it with a new random token, readable by its owner only.
// The file appears complete or not at all (written aside, then linked
// into place, which fails if it exists), so a crash or a second node
// starting on the same directory never leaves a partial token.
func readOrCreateToken(path string) (token string, created bool, err error) {
	token, err = readToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return token, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("creating %s: %w", dir, err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generating an admin token: %w", err)
	}
	token = hex.EncodeToString(b)
	tmp, err := os.CreateTemp(dir, ".admin-token-*") // mode 0600
	if err != nil {
		return "", false, fmt.Errorf("writing the admin token: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(token + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("writing the admin token to %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another start got there first: use its token
			token, err = readToken(path)
			return token, false, err
		}
		return "", false, fmt.Errorf("saving the admin token as %s: %w", path, err)
	}
	return token, true, nil
}

// readToken reads a token file, refusing one anybody else may read.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the admin token: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading the admin token: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o: others may read the admin token (chmod 600 it, and change the token if they did)", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("reading the admin token from %s: %w", path, err)
	}
	token := strings.TrimSpace(string(b))
	return token, checkToken(token, path)
}

// fillMemberAddress gives a member started without ADVERTISE_IP the
// address of its own PEER_URL: the address the other members know it
// at, and the one a node checks an advertised address against before it
// forwards an admin call (api's checkMemberAddress). A name there is
// resolved, its first address taken (loopback only if it has no
// other); an unspecified address or a failed lookup leaves 127.0.0.1.
// Followers probe the leader at the advertised address, and admin calls
// are forwarded there: in a Swarm stack, whose tasks' addresses are
// known only once they run, members advertised 127.0.0.1, so each
// follower probed itself instead of the leader, and forwarded calls for
// another member were refused.
func (s *settings) fillMemberAddress(isSet func(string) bool, resolve func(string) ([]string, error)) {
	if coordinator.Role(s.Role) != coordinator.RoleMember || isSet("ADVERTISE_IP") {
		return
	}
	u, err := url.Parse(s.PeerURL)
	if err != nil || u.Hostname() == "" {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsUnspecified() {
			s.AdvertiseIP = host
		}
		return
	}
	addrs, err := resolve(host)
	if err != nil || len(addrs) == 0 {
		return
	}
	s.AdvertiseIP = addrs[0]
	if a, ok := firstOffLoopback(addrs); ok {
		s.AdvertiseIP = a
	}
}

// firstOffLoopback is the first of addrs that is an IP address other
// than loopback.
func firstOffLoopback(addrs []string) (string, bool) {
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && !ip.IsLoopback() {
			return a, true
		}
	}
	return "", false
}

// fillWorkerIdentity gives a worker started without NODE_ID or
// ADVERTISE_IP (as every replica of a scaled service is: they share one
// environment) an identity of its own: its host name as the id, and as
// the address others reach it at, the first address that name resolves
// to other than loopback, or else the one it would reach its first
// member off loopback from (sourceAddrToward). A Debian host names
// itself 127.0.1.1 in /etc/hosts: without the second rule a worker there
// advertised 127.0.0.1 to members on other hosts, and a call they
// forwarded to it (/admin/nodes/<worker>/fail) reached themselves. isSet
// says whether a variable was in the environment.
func (s *settings) fillWorkerIdentity(isSet func(string) bool, hostname string, resolve func(string) ([]string, error), routeTo func(endpoint string) (string, error)) error {
	if coordinator.Role(s.Role) != coordinator.RoleWorker {
		return nil
	}
	if !isSet("NODE_ID") {
		if hostname == "" {
			return errors.New("ROLE=worker without NODE_ID, and no host name to use instead")
		}
		s.NodeID = hostname
	}
	if isSet("ADVERTISE_IP") {
		return nil
	}
	if hostname != "" {
		addrs, err := resolve(hostname)
		if err != nil {
			return fmt.Errorf("ROLE=worker without ADVERTISE_IP: resolving the host name %q: %w", hostname, err)
		}
		if a, ok := firstOffLoopback(addrs); ok {
			s.AdvertiseIP = a
			return nil
		}
	}
	// The address toward the first member off loopback; loopback only
	// when every member is there too.
	var errs []error
	for _, endpoint := range s.Endpoints {
		ip, err := routeTo(endpoint)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.AdvertiseIP = ip; !net.ParseIP(ip).IsLoopback() {
			return nil
		}
	}
	if len(errs) > 0 && len(errs) == len(s.Endpoints) {
		return fmt.Errorf("ROLE=worker without ADVERTISE_IP, and its host name gives no address but loopback: %w", errors.Join(errs...))
	}
	return nil // check() refuses a worker without members
}

// sourceAddrToward returns the local address this host sends from to
// reach endpoint's host (a URL such as https://stego-node1:2379): what
// connecting a UDP socket picks from the routing table. Nothing is sent.
func sourceAddrToward(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("etcd endpoint %q: not a URL with a host", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "2379"
	}
	d := net.Dialer{Timeout: 5 * time.Second} // resolving the name may take a while
	c, err := d.Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return "", fmt.Errorf("the route to etcd endpoint %q: %w", endpoint, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}
