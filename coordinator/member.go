package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/stegocluster/stegocluster/internal/pki"
)

// ErrNotReady is returned by StartMember when the member did not become
// ready in time (usually: too few peers up to form a quorum).
var ErrNotReady = errors.New("coordinator: etcd member not ready")

// MemberConfig configures the embedded etcd member.
type MemberConfig struct {
	Name           string        // member name, unique in the cluster; the node id
	DataDir        string        // etcd's data directory; reused on restart
	PeerURL        string        // listen and advertise URL for raft, e.g. http://127.0.0.1:2380
	ClientURL      string        // listen and advertise URL for clients, e.g. http://127.0.0.1:2379
	InitialCluster string        // "n1=http://…:2380,n2=…"; empty: a one-member cluster of this node
	ClusterToken   string        // distinguishes clusters started from the same config
	ClusterState   string        // "new", or "existing" to join a running cluster after member add
	TickMs         uint          // raft heartbeat interval
	ElectionMs     uint          // raft election timeout
	ReadyTimeout   time.Duration // how long StartMember waits for the member to be ready
	QuotaBytes     int64         // backend quota
	TLS            TLSFiles      // mutual TLS for peers and clients; zero: plaintext
}

// TLSFiles are the PEM files that authenticate a member's etcd traffic.
// With them, raft and client traffic are TLS, and both ports accept only
// connections that present a certificate the CA signed: etcd's own
// client-certificate authentication. The member reads Cert and Key
// again for every new connection, so renewing them (`stegoctl certs
// renew`) needs no restart; CA is read at start.
type TLSFiles struct {
	CA, Cert, Key string
}

// TLSDir is the files of a node's directory as `stegoctl certs init`
// writes it (internal/pki).
func TLSDir(dir string) TLSFiles {
	return TLSFiles{
		CA:   filepath.Join(dir, pki.CAFile),
		Cert: filepath.Join(dir, pki.CertFile),
		Key:  filepath.Join(dir, pki.KeyFile),
	}
}

// Enabled reports whether f names any file.
func (f TLSFiles) Enabled() bool { return f != TLSFiles{} }

func (f TLSFiles) info() transport.TLSInfo {
	return transport.TLSInfo{CertFile: f.Cert, KeyFile: f.Key, TrustedCAFile: f.CA, ClientCertAuth: true}
}

// noOrigin is the only origin etcd's HTTP endpoints allow cross-origin
// requests from: etcd allows every origin when its list is empty, and
// ".invalid" is reserved (RFC 2606), so no web page has this origin.
const noOrigin = "https://cors-disabled.invalid"

// member is a running embedded etcd member and a client connected to it.
type member struct {
	etcd   *embed.Etcd
	client *clientv3.Client
}

// startMember starts the embedded member and waits until it has joined
// the cluster and can serve, at most cfg.ReadyTimeout (or until ctx is
// done). An existing data directory is reused, which is how a restarted
// node rejoins. On failure everything started is stopped again. etcd's
// own logs go to log.
func startMember(ctx context.Context, cfg MemberConfig, log *slog.Logger) (*member, error) {
	ec, err := embedConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("coordinator: start etcd member %s: %w", cfg.Name, err)
	}
	timeout := cfg.ReadyTimeout
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("coordinator: etcd member %s failed: %w", cfg.Name, err)
	case <-time.After(timeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("%w after %s", ErrNotReady, timeout)
	case <-ctx.Done():
		e.Server.Stop()
		e.Close()
		return nil, ctx.Err()
	}
	client, err := newClient([]string{cfg.ClientURL}, cfg.TLS)
	if err != nil {
		e.Close()
		return nil, err
	}
	return &member{etcd: e, client: client}, nil
}

// newClient is a client of the members at endpoints, presenting files'
// certificate when they are set.
func newClient(endpoints []string, files TLSFiles) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Pings find a member that froze or was cut off, whose
		// connection would otherwise stay open and every call on it
		// hang: a worker then moves to another member. 5 s is the least
		// etcd's server accepts (GRPCKeepAliveMinTime), and pings go
		// only while a call or watch is open, as it also requires.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		// gRPC waits between attempts to reach an unreachable member,
		// 1 s at first, growing 1.6× up to 120 s: after every member
		// has been down half a minute, a worker stayed degraded for 7–8
		// s after they were back (TestWorkerReconnectsSoonAfterAnOutage).
		// An attempt is a connection (and TLS handshake) to a member's
		// client port: trying each about once a second costs next to
		// nothing.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   time.Second,
			},
			MinConnectTimeout: 5 * time.Second,
		})},
		Logger: zap.NewNop(),
	}
	if files.Enabled() {
		tlsCfg, err := files.info().ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("coordinator: etcd client TLS: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("coordinator: etcd client: %w", err)
	}
	return client, nil
}

func embedConfig(cfg MemberConfig, log *slog.Logger) (*embed.Config, error) {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	peer, err := url.Parse(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("coordinator: peer URL %q: %w", cfg.PeerURL, err)
	}
	client, err := url.Parse(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("coordinator: client URL %q: %w", cfg.ClientURL, err)
	}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*listenURL(peer)}, []url.URL{*peer}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*listenURL(client)}, []url.URL{*client}
	ec.InitialCluster = cfg.InitialCluster
	if ec.InitialCluster == "" {
		ec.InitialCluster = cfg.Name + "=" + cfg.PeerURL
	}
	if err := checkSchemes(cfg.TLS.Enabled(), append([]string{cfg.PeerURL, cfg.ClientURL}, InitialClusterURLs(ec.InitialCluster)...)...); err != nil {
		return nil, err
	}
	if cfg.TLS.Enabled() {
		ec.ClientTLSInfo, ec.PeerTLSInfo = cfg.TLS.info(), cfg.TLS.info()
	}
	// Nothing of ours, nor etcdctl, uses etcd's JSON gateway; without it
	// a web page cannot write keys through a browser that reaches the
	// client port, and no origin gets CORS headers from what is left.
	ec.EnableGRPCGateway = false
	ec.CORS = map[string]struct{}{noOrigin: {}}
	ec.InitialClusterToken = cfg.ClusterToken
	ec.ClusterState = cfg.ClusterState
	ec.TickMs, ec.ElectionMs = cfg.TickMs, cfg.ElectionMs
	ec.PreVote = true
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1m"
	ec.QuotaBackendBytes = cfg.QuotaBytes
	ec.Metrics = "basic"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newEtcdLogger(log, cfg.Name))
	return ec, nil
}

// checkSchemes says which URL has the wrong scheme: https with TLS
// files, http without (etcd would otherwise fail later, less clearly).
func checkSchemes(tls bool, urls ...string) error {
	want := "http"
	if tls {
		want = "https"
	}
	for _, raw := range urls {
		if u, err := url.Parse(raw); err != nil || u.Scheme != want {
			return fmt.Errorf("coordinator: etcd URL %q: want %s:// (TLS files given: %v)", raw, want, tls)
		}
	}
	return nil
}

// InitialClusterURLs are the peer URLs of an initial cluster
// ("name=url,name=url,…").
func InitialClusterURLs(initialCluster string) []string {
	var urls []string
	for m := range strings.SplitSeq(initialCluster, ",") {
		if _, u, ok := strings.Cut(m, "="); ok {
			urls = append(urls, u)
		}
	}
	return urls
}

// listenURL listens on all interfaces when the advertised host is a
// name (as in containers, where the name resolves to the container's
// address), and on the address itself otherwise.
func listenURL(u *url.URL) *url.URL {
	l := *u
	host := u.Hostname()
	if host != "localhost" && !strings.ContainsAny(host, ".:") {
		l.Host = "0.0.0.0:" + u.Port()
	}
	return &l
}

// Client is a client of this member. It is closed by Close.
func (m *member) Client() *clientv3.Client { return m.client }

// ID is this member's etcd member id.
func (m *member) ID() uint64 { return uint64(m.etcd.Server.MemberID()) }

// RaftLeaderID is the member id of the current raft leader (0 if none).
func (m *member) RaftLeaderID() uint64 { return uint64(m.etcd.Server.Leader()) }

// RaftTerm is the current raft term as this member sees it.
func (m *member) RaftTerm() uint64 { return m.etcd.Server.Term() }

// Err delivers fatal errors of the member's servers.
func (m *member) Err() <-chan error { return m.etcd.Err() }

// Close closes the client and then the member. Callers must first stop
// everything that uses the client (sessions, watches): embed's Close can
// block while they are open.
func (m *member) Close() {
	m.client.Close()
	m.etcd.Close()
}
