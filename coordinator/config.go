package coordinator

import (
	"log/slog"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// Config is everything a node's coordination needs. DefaultConfig holds
// every default; Start fills each zero field from it, so a default is
// written in exactly one place (the README's settings table is checked
// against it by cmd/stegod's tests).
type Config struct {
	// Role is what this node is in the cluster: a Member (the default)
	// runs an etcd member and campaigns; a Worker runs none, is a client
	// of the members at Endpoints, never campaigns and serves stego work.
	// A worker uses Member.Name (its node id) and Member.TLS only.
	Role      Role
	Endpoints []string // a worker's members: their client URLs
	Member    MemberConfig

	LeaseTTL       int           // election lease, whole seconds (etcd's minimum is 1)
	KeepAliveEvery time.Duration // election lease renewal
	PublishEvery   time.Duration // the leader's state refresh
	RegistryEvery  time.Duration // a member's registry entry refresh
	RegistryTTL    int           // a member's registry lease, whole seconds
	// A worker's entry is refreshed less often, so that the cluster's
	// writes per worker stay small (docs/scaling.md has the formula);
	// a worker that dies without a word leaves status after
	// WorkerRegistryTTL (nginx stops sending it requests at once).
	WorkerRegistryEvery time.Duration
	WorkerRegistryTTL   int

	// Fast failover (failover.go): followers probe the leader every
	// ProbeEvery and revoke its lease after SuspectAfter without an
	// answer once a probe proved it down (refused or reset), or after
	// SuspectSlowAfter without an answer at all.
	ProbeEvery       time.Duration
	SuspectAfter     time.Duration
	SuspectSlowAfter time.Duration
	// Event streams' view of every node (Node.SubscribeProbes): a sweep of
	// all nodes every SweepEvery, each probe bounded by SweepTimeout, of
	// which at most SweepWorkers workers, the least recently probed.
	SweepEvery   time.Duration
	SweepTimeout time.Duration
	SweepWorkers int

	// What this node advertises in its registry entry besides its id
	// (Member.Name) and raft port (from Member.PeerURL).
	AdvertiseIP string
	HTTPPort    int
	Version     string
	// Metrics, if set, supplies the live figures of the registry entry;
	// it is called about once a second from the registry's goroutine.
	Metrics func() wire.NodeMetrics

	// Probe replaces the HTTP probe of other nodes' /healthz (tests).
	Probe ProbeFunc
	// Exit ends the process for Node.Crash (os.Exit when nil; tests
	// replace it).
	Exit func(code int)
	// Logger receives lease, election, deposition and etcd events
	// (slog.Default() when nil).
	Logger *slog.Logger
}

// Role is a node's part in the cluster.
type Role string

const (
	// RoleMember nodes run an etcd member, campaign, and serve.
	RoleMember Role = "member"
	// RoleWorker nodes are stateless: an etcd client, a registry entry
	// and the API. They never lead; adding them costs raft nothing.
	RoleWorker Role = "worker"
)

// DefaultConfig is a one-node cluster on loopback, with the timings
// measured in docs/failover.md.
func DefaultConfig() Config {
	return Config{
		Role: RoleMember,
		Member: MemberConfig{
			Name:         "node1",
			DataDir:      "./data/etcd",
			PeerURL:      "http://127.0.0.1:2380",
			ClientURL:    "http://127.0.0.1:2379",
			ClusterToken: "stegocluster",
			ClusterState: "new",
			TickMs:       50,
			ElectionMs:   250,
			ReadyTimeout: time.Minute,
			QuotaBytes:   256 << 20, // a handful of small keys, compacted every minute
		},
		LeaseTTL:            1,
		KeepAliveEvery:      50 * time.Millisecond,
		PublishEvery:        time.Second,
		RegistryEvery:       time.Second,
		RegistryTTL:         2,
		WorkerRegistryEvery: 2 * time.Second,
		WorkerRegistryTTL:   6,
		ProbeEvery:          50 * time.Millisecond,
		SuspectAfter:        150 * time.Millisecond,
		SuspectSlowAfter:    400 * time.Millisecond,
		SweepEvery:          250 * time.Millisecond,
		SweepTimeout:        800 * time.Millisecond,
		SweepWorkers:        16,
		AdvertiseIP:         "127.0.0.1",
		Version:             "dev",
	}
}

// withDefaults returns c with every zero field taken from DefaultConfig.
// Member.InitialCluster stays empty (a one-member cluster of this node).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	m, dm := &c.Member, d.Member
	fill(&m.Name, dm.Name)
	fill(&m.DataDir, dm.DataDir)
	fill(&m.PeerURL, dm.PeerURL)
	fill(&m.ClientURL, dm.ClientURL)
	fill(&m.ClusterToken, dm.ClusterToken)
	fill(&m.ClusterState, dm.ClusterState)
	fill(&m.TickMs, dm.TickMs)
	fill(&m.ElectionMs, dm.ElectionMs)
	fill(&m.ReadyTimeout, dm.ReadyTimeout)
	fill(&m.QuotaBytes, dm.QuotaBytes)
	fill(&c.LeaseTTL, d.LeaseTTL)
	fill(&c.KeepAliveEvery, d.KeepAliveEvery)
	fill(&c.PublishEvery, d.PublishEvery)
	fill(&c.RegistryEvery, d.RegistryEvery)
	fill(&c.RegistryTTL, d.RegistryTTL)
	fill(&c.WorkerRegistryEvery, d.WorkerRegistryEvery)
	fill(&c.WorkerRegistryTTL, d.WorkerRegistryTTL)
	fill(&c.ProbeEvery, d.ProbeEvery)
	fill(&c.SuspectAfter, d.SuspectAfter)
	fill(&c.SuspectSlowAfter, d.SuspectSlowAfter)
	fill(&c.SweepEvery, d.SweepEvery)
	fill(&c.SweepTimeout, d.SweepTimeout)
	fill(&c.SweepWorkers, d.SweepWorkers)
	fill(&c.AdvertiseIP, d.AdvertiseIP)
	fill(&c.Version, d.Version)
	fill(&c.Role, d.Role)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// fill sets *v to def when *v is the zero value.
func fill[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
