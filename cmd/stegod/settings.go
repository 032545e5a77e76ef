package main

import (
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/stegocluster/stegocluster/api"
	"github.com/stegocluster/stegocluster/coordinator"
)

// settings are read from the environment; the README's settings table
// lists them, and TestREADMESettingsTable checks that table against
// defaultSettings. The struct tags name the variables only: defaults
// come from defaultSettings, which takes them from coordinator and api,
// so each default is written once.
type settings struct {
	NodeID          string        `envconfig:"NODE_ID"`
	HTTPAddr        string        `envconfig:"HTTP_ADDR"`
	AdvertiseIP     string        `envconfig:"ADVERTISE_IP"`
	DataDir         string        `envconfig:"DATA_DIR"`
	PeerURL         string        `envconfig:"PEER_URL"`
	ClientURL       string        `envconfig:"CLIENT_URL"`
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
	AdminToken      string        `envconfig:"ADMIN_TOKEN"` // empty: generated
	MaxEventStreams int           `envconfig:"MAX_EVENT_STREAMS"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT"`
	MemoryLimitMB   int64         `envconfig:"MEMORY_LIMIT_MB"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL"`
}

// defaultSettings are a working one-node cluster on :8080 with its data
// under ./data: what `go run ./cmd/stegod` runs.
func defaultSettings() settings {
	c, a := coordinator.DefaultConfig(), api.DefaultConfig()
	return settings{
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
	c.LeaseTTL = s.LeaseTTL
	c.KeepAliveEvery = s.KeepAlive
	c.ProbeEvery = s.ProbeEvery
	c.SuspectAfter = s.SuspectAfter
	c.SuspectSlowAfter = s.SuspectSlow
	c.AdvertiseIP = s.AdvertiseIP
	c.HTTPPort = portOf(s.HTTPAddr)
	return c
}
