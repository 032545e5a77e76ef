package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcdLogRecord is one record a etcdLogCapture received, attributes flattened
// to strings (groups as key.sub).
type etcdLogRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// etcdLogCapture is an slog.Handler that keeps what it is given.
type etcdLogCapture struct {
	level slog.Level
	attrs []slog.Attr // from WithAttrs
	mu    *sync.Mutex
	recs  *[]etcdLogRecord
}

func newEtcdLogCapture(level slog.Level) *etcdLogCapture {
	return &etcdLogCapture{level: level, mu: new(sync.Mutex), recs: new([]etcdLogRecord)}
}

func (h *etcdLogCapture) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *etcdLogCapture) Handle(_ context.Context, r slog.Record) error {
	rec := etcdLogRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		if a.Value.Kind() == slog.KindGroup {
			for _, g := range a.Value.Group() {
				add(prefix+a.Key+".", g)
			}
			return
		}
		rec.attrs[prefix+a.Key] = a.Value.String()
	}
	for _, a := range h.attrs {
		add("", a)
	}
	r.Attrs(func(a slog.Attr) bool { add("", a); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.recs = append(*h.recs, rec)
	return nil
}

func (h *etcdLogCapture) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

// WithGroup is not needed: etcdCore never opens groups on its handler.
func (h *etcdLogCapture) WithGroup(string) slog.Handler { panic("etcdLogCapture: WithGroup") }

func (h *etcdLogCapture) records() []etcdLogRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]etcdLogRecord(nil), *h.recs...)
}

func TestEtcdLogLevels(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler slog.Level // the level our logger is at
		log     func(*zap.Logger)
		want    []slog.Level // levels of the records that arrive
	}{
		{"debug below our debug", etcdDebugLevel, func(l *zap.Logger) { l.Debug("m") }, []slog.Level{slog.LevelDebug - 4}},
		{"debug hidden at debug", slog.LevelDebug, func(l *zap.Logger) { l.Debug("m") }, nil},
		{"info is our debug", slog.LevelDebug, func(l *zap.Logger) { l.Info("m") }, []slog.Level{slog.LevelDebug}},
		{"info hidden at info", slog.LevelInfo, func(l *zap.Logger) { l.Info("m") }, nil},
		{"warn", slog.LevelInfo, func(l *zap.Logger) { l.Warn("m") }, []slog.Level{slog.LevelWarn}},
		{"error", slog.LevelInfo, func(l *zap.Logger) { l.Error("m") }, []slog.Level{slog.LevelError}},
		{"dpanic is error", slog.LevelInfo, func(l *zap.Logger) { l.DPanic("m") }, []slog.Level{slog.LevelError}},
		{"warn hidden at error", slog.LevelError, func(l *zap.Logger) { l.Warn("m") }, nil},
		{"raft logger", slog.LevelInfo, func(l *zap.Logger) { l.Named("raft").Sugar().Warnf("%x stepped down", 1) }, []slog.Level{slog.LevelWarn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newEtcdLogCapture(tc.handler)
			tc.log(newEtcdLogger(slog.New(h), "n1"))
			var got []slog.Level
			for _, r := range h.records() {
				got = append(got, r.level)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("levels %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEtcdLogRepeats: a warning etcd repeats (a survivor's about a down
// peer, many a second) is shown once per window; the repeats go to
// Debug, and the next one shown says how many there were.
func TestEtcdLogRepeats(t *testing.T) {
	h := newEtcdLogCapture(slog.LevelDebug)
	lg := newEtcdLogger(slog.New(h), "n1")
	peer := lg.With(zap.String("remote-peer-id", "a1"))
	for range 5 {
		peer.Warn("prober detected unhealthy status")
	}
	lg.Warn("another warning")
	lg.Error("prober detected unhealthy status")                                         // errors always show
	lg.With(zap.String("remote-peer-id", "b2")).Warn("prober detected unhealthy status") // another peer
	// The window passes.
	repeats := lg.Core().(*etcdCore).repeats
	repeats.mu.Lock()
	for _, e := range repeats.last {
		e.shown = e.shown.Add(-etcdRepeatWindow)
	}
	repeats.mu.Unlock()
	peer.Warn("prober detected unhealthy status")

	var got []string
	for _, r := range h.records() {
		got = append(got, fmt.Sprintf("%s %s %s", r.level, r.msg, r.attrs["repeats_demoted"]))
	}
	want := []string{
		"WARN prober detected unhealthy status ",
		"DEBUG prober detected unhealthy status ",
		"DEBUG prober detected unhealthy status ",
		"DEBUG prober detected unhealthy status ",
		"DEBUG prober detected unhealthy status ",
		"WARN another warning ",
		"ERROR prober detected unhealthy status ",
		"WARN prober detected unhealthy status ",
		"WARN prober detected unhealthy status 4",
	}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEtcdLogFields(t *testing.T) {
	h := newEtcdLogCapture(slog.LevelInfo)
	lg := newEtcdLogger(slog.New(h), "n1").With(zap.String("local-member-id", "8e9e05c52164694d"))
	lg.Named("raft").Warn("slow",
		zap.String("s", "x"),
		zap.Int("n", 3),
		zap.Duration("took", 1500*time.Millisecond),
		zap.Error(errors.New("boom")),
		zap.Strings("urls", []string{"a", "b"}),
		zap.Bool("ok", false),
		zap.Namespace("ns"),
		zap.Int("inner", 7),
	)
	recs := h.records()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	got := recs[0].attrs
	for k, want := range map[string]string{
		"member":          "n1",
		"local-member-id": "8e9e05c52164694d",
		"logger":          "etcd.raft",
		"s":               "x",
		"n":               "3",
		"took":            "1.5s",
		"error":           "boom",
		"urls":            "[a b]",
		"ok":              "false",
		"ns.inner":        "7",
	} {
		if got[k] != want {
			t.Errorf("attr %s = %q, want %q", k, got[k], want)
		}
	}
	if c := got["caller"]; !strings.HasPrefix(c, "coordinator/etcdlog_test.go:") {
		t.Errorf("caller %q, want this file", c)
	}
	if recs[0].msg != "slow" {
		t.Errorf("message %q", recs[0].msg)
	}
}

func TestEtcdLogRoutine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		level  zapcore.Level // etcd's
		msg    string
		fields []zap.Field
		want   slog.Level
	}{
		{"fresh member storage version", zapcore.ErrorLevel, "failed to update storage version",
			[]zap.Field{zap.String("cluster-version", "3.7.0"), zap.Error(errors.New("cannot detect storage schema version: missing term information"))},
			etcdInfoLevel},
		{"fresh member schema version", zapcore.WarnLevel, "Failed to detect schema version",
			[]zap.Field{zap.Error(errors.New("missing term information"))}, etcdInfoLevel},
		{"serve loop closed by Close", zapcore.ErrorLevel, "setting up serving from embedded etcd failed.",
			[]zap.Field{zap.Error(errors.New("accept tcp 127.0.0.1:2379: use of closed network connection"))}, etcdInfoLevel},
		{"http server closed by Close", zapcore.ErrorLevel, "setting up serving from embedded etcd failed.",
			[]zap.Field{zap.Error(errors.New("http: Server closed"))}, etcdInfoLevel},
		{"simple token", zapcore.WarnLevel, "simple token is not cryptographically signed", nil, etcdInfoLevel},

		// The same messages with other errors are real problems.
		{"storage version, other error", zapcore.ErrorLevel, "failed to update storage version",
			[]zap.Field{zap.Error(errors.New("bbolt: database not open"))}, slog.LevelError},
		{"serve loop, other error", zapcore.ErrorLevel, "setting up serving from embedded etcd failed.",
			[]zap.Field{zap.Error(errors.New("tls: bad certificate"))}, slog.LevelError},
		{"serve loop, no error field", zapcore.ErrorLevel, "setting up serving from embedded etcd failed.", nil, slog.LevelError},
		{"unlisted error", zapcore.ErrorLevel, "failed to save snapshot", nil, slog.LevelError},
		{"peer not reachable stays a warning", zapcore.WarnLevel, "failed to reach the peer URL",
			[]zap.Field{zap.Error(errors.New("dial tcp 127.0.0.1:2380: connect: connection refused"))}, slog.LevelWarn},
		{"message must match exactly", zapcore.WarnLevel, "simple token is not cryptographically signed!", nil, slog.LevelWarn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newEtcdLogCapture(etcdDebugLevel)
			lg := newEtcdLogger(slog.New(h), "n1")
			if ce := lg.Check(tc.level, tc.msg); ce != nil {
				ce.Write(tc.fields...)
			}
			recs := h.records()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			if recs[0].level != tc.want {
				t.Errorf("level %v, want %v", recs[0].level, tc.want)
			}
			// A demoted record is not dropped: message and fields arrive.
			if recs[0].msg != tc.msg {
				t.Errorf("message %q, want %q", recs[0].msg, tc.msg)
			}
			if _, hasStack := recs[0].attrs["stacktrace"]; hasStack != (tc.want >= slog.LevelError) {
				t.Errorf("stacktrace present: %v, want only on Error (our logger is at Debug)", hasStack)
			}
		})
	}
}

func TestEtcdLogStacktrace(t *testing.T) {
	for _, tc := range []struct {
		handler slog.Level
		want    bool
	}{
		{slog.LevelError, false},
		{slog.LevelWarn, false},
		{slog.LevelInfo, false},
		{slog.LevelDebug, true},
	} {
		t.Run(tc.handler.String(), func(t *testing.T) {
			h := newEtcdLogCapture(tc.handler)
			newEtcdLogger(slog.New(h), "n1").Error("failed to save snapshot", zap.Error(errors.New("disk full")))
			recs := h.records()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			st, got := recs[0].attrs["stacktrace"]
			if got != tc.want {
				t.Fatalf("stacktrace present: %v, want %v", got, tc.want)
			}
			if got && !strings.Contains(st, "TestEtcdLogStacktrace") {
				t.Errorf("stacktrace does not name the test:\n%s", st)
			}
		})
	}
}

// TestEtcdLogMemberStart starts a real embedded member with newEtcdLogger,
// stops it and starts it again on its data: neither start nor stop may log
// at Error.
func TestEtcdLogMemberStart(t *testing.T) {
	h := newEtcdLogCapture(etcdDebugLevel)
	// A directory etcd creates itself gets mode 0700; t.TempDir's 0755
	// would add a (deserved) "check file permission" warning.
	dir := filepath.Join(t.TempDir(), "etcd")
	peer, client := etcdLogFreeURL(t), etcdLogFreeURL(t)
	run := func(phase string) {
		cfg := DefaultConfig().Member
		cfg.Name, cfg.DataDir = "n1", dir
		cfg.PeerURL, cfg.ClientURL = peer.String(), client.String()
		cfg.ClusterToken = "etcdlog-test"
		ec, err := embedConfig(cfg, slog.New(h))
		if err != nil {
			t.Fatal(err)
		}
		e, err := embed.StartEtcd(ec)
		if err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			e.Close()
			t.Fatalf("%s: %v", phase, err)
		case <-time.After(10 * time.Second):
			e.Close()
			t.Fatalf("%s: not ready", phase)
		}
		// A fresh member may log the storage version message (it is a
		// race, see etcdRoutineMessages) within milliseconds of becoming
		// ready: give it time to arrive, so that the check below covers
		// it when it does.
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) && !etcdLogSeen(h, "failed to update storage version") {
			time.Sleep(20 * time.Millisecond)
		}
		e.Close()
	}
	run("fresh start")
	t.Logf("storage version message seen on the fresh start: %v", etcdLogSeen(h, "failed to update storage version"))
	run("restart")

	for _, r := range h.records() {
		switch {
		case r.level >= slog.LevelError:
			t.Errorf("%v %q %v", r.level, r.msg, r.attrs)
		case r.level >= slog.LevelWarn:
			// Not an error: a slow disk can make etcd warn.
			t.Logf("%v %q %v", r.level, r.msg, r.attrs)
		}
	}
}

func etcdLogSeen(h *etcdLogCapture, msg string) bool {
	for _, r := range h.records() {
		if r.msg == msg {
			return true
		}
	}
	return false
}

// etcdLogFreeURL returns an http URL on a loopback port that was free a
// moment ago.
func etcdLogFreeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

// The repeats map keeps at most etcdRepeatsKept warnings: many distinct
// ones within a window (raft's carry terms and indexes) are shown, and
// not tracked past the bound.
func TestEtcdRepeatsBounded(t *testing.T) {
	r := &etcdRepeats{window: time.Minute, last: map[string]*etcdRepeat{}}
	now := time.Now()
	for i := range 3 * etcdRepeatsKept {
		if shown, _ := r.admit(fmt.Sprintf("warning %d", i), now); !shown {
			t.Fatalf("a new warning (%d) was not shown", i)
		}
	}
	if len(r.last) > etcdRepeatsKept {
		t.Fatalf("%d warnings tracked, bound %d", len(r.last), etcdRepeatsKept)
	}
	// A tracked one is still demoted within its window.
	if shown, _ := r.admit("warning 0", now.Add(time.Second)); shown {
		t.Fatal("a repeat within the window was shown")
	}
}
