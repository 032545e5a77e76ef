package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Levels at which etcd's entries reach our logger.
//
// etcd's Info is our Debug: a member logs about fifty Info lines on every
// start (over two hundred for a three-member bootstrap) and more on every
// periodic compaction, once a minute with our config. The node logs what
// matters to us (leadership, membership) itself, so at the default
// LOG_LEVEL=info only etcd's warnings and errors show. etcd's Debug, which
// is chattier still, sits one step further down, below our own Debug: it
// shows with LOG_LEVEL=DEBUG-4.
const (
	etcdDebugLevel = slog.LevelDebug - 4
	etcdInfoLevel  = slog.LevelDebug
)

// etcdLevel maps a zap level to the slog level of the forwarded record.
func etcdLevel(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel: // also DPanic, Panic and Fatal
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	case l == zapcore.InfoLevel:
		return etcdInfoLevel
	default:
		return etcdDebugLevel
	}
}

// etcdRoutine is a message etcd logs at Warn or Error for an event that is
// normal for a stegod node. Such an entry is logged at etcdInfoLevel
// instead, like the rest of etcd's start-up and shutdown chatter; it is
// never dropped.
type etcdRoutine struct {
	msg string // the entry's message, exactly as etcd spells it
	// If not empty, the entry's "error" field must contain one of these:
	// the same message with another error is a real problem.
	errs []string
}

// etcdRoutineMessages lists the routine messages, each observed when
// starting, restarting and stopping one and three embedded members
// (etcd v3.7.3). Keep it short: a message belongs here only when it says
// nothing about the health of the node or the cluster.
func etcdRoutineMessages() []etcdRoutine {
	// On a fresh member the cluster version is set right after the first
	// election. If that happens before the backend has committed a raft
	// term, etcd cannot tell the storage schema version and logs these
	// two (the second at Error, with a stack trace by default); its
	// version monitor tries again 4 s later and then succeeds ("updated
	// storage version"). A race: seen on some fresh starts of a
	// one-member cluster, never on a restart.
	missingTerm := []string{"missing term information"}
	// What etcd's serve loops return when embed.Etcd.Close closes their
	// listeners and servers: cmux.ErrServerClosed, http.ErrServerClosed,
	// net.ErrClosed, and grpc.ErrServerStopped when Close stops the gRPC
	// server before its serve loop has started (a stop soon after a
	// start). Close is the only thing that closes them.
	closed := []string{"mux: server closed", "http: Server closed", "use of closed network connection", "grpc: the server has been stopped"}
	return []etcdRoutine{
		{msg: "failed to update storage version", errs: missingTerm},
		{msg: "Failed to detect schema version", errs: missingTerm},
		// Logged at Error by embed's errHandler for every serve loop that
		// returns, before it checks whether Close is in progress: about
		// four lines per member on every stop.
		{msg: "setting up serving from embedded etcd failed.", errs: closed},
		// The gRPC half of the same shutdown.
		{msg: "stopping insecure grpc server due to error", errs: closed},
		{msg: "stopped insecure grpc server due to error", errs: closed},
		{msg: "stopping secure grpc server due to error", errs: closed},
		{msg: "stopped secure grpc server due to error", errs: closed},
		// etcd always builds its auth token provider, "simple" unless
		// configured otherwise, and warns about it even though auth is
		// disabled; we never enable etcd auth, so no token is ever issued.
		{msg: "simple token is not cryptographically signed"},
		// Logged on every start unless a separate listener is configured
		// for etcd's HTTP endpoints, which keeps heavy gRPC traffic from
		// delaying them. Our cluster holds a handful of small keys; one
		// client URL per member is the intended configuration.
		{msg: "Running http and grpc server on single port. This is not recommended for production."},
	}
}

// newEtcdLogger returns a zap logger for the embedded member that writes through l.
//
// Entries are forwarded as slog records with etcd's fields as attributes,
// plus member, logger ("etcd", or "etcd.raft" for raft's own lines) and
// caller. Levels are mapped by etcdLevel and routine messages demoted (see
// etcdRoutineMessages). Stack traces, which etcd's default logger adds to
// every Error, are captured only while l is enabled at Debug: at the
// default level they are noise in a line that already names its caller.
// Filtering is done entirely by l's handler, so embed.Config.LogLevel has
// no effect on this logger.
func newEtcdLogger(l *slog.Logger, member string) *zap.Logger {
	c := &etcdCore{
		h:       l.Handler().WithAttrs([]slog.Attr{slog.String("member", member)}),
		routine: etcdRoutineMessages(),
		repeats: &etcdRepeats{window: etcdRepeatWindow, last: map[string]*etcdRepeat{}},
	}
	return zap.New(c, zap.AddCaller(), zap.AddStacktrace(zap.LevelEnablerFunc(c.wantStack))).Named("etcd")
}

// etcdCore is a zapcore.Core that forwards each entry to an slog.Handler.
type etcdCore struct {
	h       slog.Handler // carries the fields added by With as attributes
	routine []etcdRoutine
	repeats *etcdRepeats // shared by the clones With makes
	about   string       // the peer fields added by With, for etcdRepeatKey
}

// etcdRepeatWindow: a warning etcd repeats is shown once per window.
// While a peer is down each survivor's etcd warns about it several
// times a second (about 50 lines a minute: its prober, its streams,
// the version check); one line per half minute says as much.
const etcdRepeatWindow = 30 * time.Second

// etcdRepeats demotes a warning shown less than window ago to
// etcdInfoLevel (our Debug: never dropped), and counts it; the next one
// shown says how many were demoted in between. A warning is its message
// and the peer it is about (etcdRepeatKey): a second peer going down is
// shown at once, however often the first is warned about.
type etcdRepeats struct {
	mu     sync.Mutex
	window time.Duration
	last   map[string]*etcdRepeat // by etcdRepeatKey
}

// etcdRepeatFields name the peer an etcd warning is about.
var etcdRepeatFields = []string{"remote-peer-id", "peer-id", "round-tripper-name", "remote-addr", "address"}

// etcdRepeatKey is what makes two warnings the same one.
func etcdRepeatKey(msg string, fields map[string]any) string {
	key := msg
	for _, f := range etcdRepeatFields {
		if v, ok := fields[f]; ok {
			key += fmt.Sprintf("\x00%s=%v", f, v)
		}
	}
	return key
}

// etcdRepeatsKept bounds the map: raft's own warnings carry terms and
// indexes in their text, so their keys do not repeat.
const etcdRepeatsKept = 256

type etcdRepeat struct {
	shown   time.Time
	demoted int
}

// admit says whether a warning with msg at t is shown, and if so how
// many were demoted since the last one shown.
func (r *etcdRepeats) admit(msg string, t time.Time) (shown bool, demoted int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.last[msg]
	if e != nil && t.Sub(e.shown) < r.window {
		e.demoted++
		return false, 0
	}
	if e == nil {
		if len(r.last) >= etcdRepeatsKept {
			for k, old := range r.last { // what is past its window matters no more
				if t.Sub(old.shown) >= r.window {
					delete(r.last, k)
				}
			}
		}
		if len(r.last) >= etcdRepeatsKept {
			return true, 0 // shown, not tracked: the map stays bounded
		}
		e = &etcdRepeat{}
		r.last[msg] = e
	}
	demoted, e.shown, e.demoted = e.demoted, t, 0
	return true, demoted
}

var _ zapcore.Core = (*etcdCore)(nil)

func (c *etcdCore) Enabled(l zapcore.Level) bool {
	// Demotion only lowers a level, so this is the highest level an entry
	// at l can end up at: if that is disabled, so is the entry.
	return c.h.Enabled(context.Background(), etcdLevel(l))
}

// wantStack tells zap whether to capture a stack trace for an entry at l.
// Capturing is costly, so it is decided before the entry is built.
func (c *etcdCore) wantStack(l zapcore.Level) bool {
	return l >= zapcore.ErrorLevel && c.h.Enabled(context.Background(), slog.LevelDebug)
}

func (c *etcdCore) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	m := etcdEncode(fields)
	clone := *c
	clone.h = c.h.WithAttrs(etcdMapAttrs(fields, m))
	clone.about = etcdRepeatKey(c.about, m)
	return &clone
}

func (c *etcdCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *etcdCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	m := etcdEncode(fields)
	level := etcdLevel(ent.Level)
	if level > etcdInfoLevel && c.isRoutine(ent.Message, m) {
		level = etcdInfoLevel
	}
	repeated := 0
	if level == slog.LevelWarn {
		var shown bool
		if shown, repeated = c.repeats.admit(etcdRepeatKey(ent.Message+c.about, m), ent.Time); !shown {
			level = etcdInfoLevel
		}
	}
	ctx := context.Background()
	if !c.h.Enabled(ctx, level) {
		return nil
	}
	r := slog.NewRecord(ent.Time, level, ent.Message, 0)
	if ent.LoggerName != "" {
		r.AddAttrs(slog.String("logger", ent.LoggerName))
	}
	r.AddAttrs(etcdMapAttrs(fields, m)...)
	if repeated > 0 {
		r.AddAttrs(slog.Int("repeats_demoted", repeated))
	}
	if ent.Caller.Defined {
		r.AddAttrs(slog.String("caller", ent.Caller.TrimmedPath()))
	}
	// A demoted entry was captured with a stack only because it came in
	// at Error; as a routine message it does not need one.
	if ent.Stack != "" && level >= slog.LevelError {
		r.AddAttrs(slog.String("stacktrace", ent.Stack))
	}
	return c.h.Handle(ctx, r)
}

func (c *etcdCore) Sync() error { return nil }

// isRoutine reports whether an entry with this message and these encoded
// fields is in c.routine.
func (c *etcdCore) isRoutine(msg string, fields map[string]any) bool {
	for _, r := range c.routine {
		if r.msg != msg {
			continue
		}
		if len(r.errs) == 0 {
			return true
		}
		// zap.Error encodes the error as its message under "error".
		s, _ := fields["error"].(string)
		if slices.ContainsFunc(r.errs, func(e string) bool { return strings.Contains(s, e) }) {
			return true
		}
	}
	return false
}

// etcdEncode encodes zap fields to the values etcdMapAttrs and
// etcdRepeatKey read.
func etcdEncode(fields []zapcore.Field) map[string]any {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return enc.Fields
}

// etcdMapAttrs returns the values the fields were encoded to in m as slog
// attributes, in the fields' order; a key that appears twice is emitted
// once, with its last value, as in m. A field opening a namespace
// (zap.Namespace) becomes a group holding the fields after it.
func etcdMapAttrs(fields []zapcore.Field, m map[string]any) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(m))
	seen := make(map[string]bool, len(m))
	for _, f := range fields {
		v, ok := m[f.Key]
		if !ok || seen[f.Key] {
			continue // nested in a namespace, or skipped (zap.Skip)
		}
		seen[f.Key] = true
		attrs = append(attrs, etcdValueAttr(f.Key, v))
	}
	return attrs
}

// etcdValueAttr converts a value of zapcore.MapObjectEncoder to an attribute:
// nested objects become groups, everything else slog.Any (durations and
// times keep their kind; arrays are []any).
func etcdValueAttr(key string, v any) slog.Attr {
	m, ok := v.(map[string]any)
	if !ok {
		return slog.Any(key, v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a map has no order; sorted keeps output stable
	attrs := make([]any, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, etcdValueAttr(k, m[k]))
	}
	return slog.Group(key, attrs...)
}
