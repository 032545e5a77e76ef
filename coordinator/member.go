package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
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
}

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
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{cfg.ClientURL},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("coordinator: etcd client: %w", err)
	}
	return &member{etcd: e, client: client}, nil
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
