package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/stegocluster/stegocluster/coordinator"
	"github.com/stegocluster/stegocluster/internal/testenv"
)

// The README's settings table must name every variable stegod reads,
// with the default defaultSettings really has: a default is written in
// code once, and this test keeps the docs from drifting from it.
func TestREADMESettingsTable(t *testing.T) {
	readme, err := os.ReadFile(testenv.RepoRoot(t) + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := readmeDefaults(t, string(readme))
	def := reflect.ValueOf(defaultSettings())
	typ := def.Type()
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("envconfig")
		documented, ok := table[name]
		if !ok {
			t.Errorf("README's settings table lacks %s", name)
			continue
		}
		delete(table, name)
		v := def.Field(i)
		if _, isLevel := v.Interface().(slog.Level); v.IsZero() && !isLevel { // LevelInfo is 0
			// No literal default: the README must say in words what
			// happens (e.g. "number of CPUs"), not show a value.
			if strings.Contains(documented, "`") {
				t.Errorf("%s: README gives %s, but it has no default value in code", name, documented)
			}
			continue
		}
		if want := "`" + formatDefault(v.Interface()) + "`"; documented != want {
			t.Errorf("%s: README says %s, defaultSettings has %s", name, documented, want)
		}
	}
	for name := range table {
		t.Errorf("README documents %s, which stegod does not read", name)
	}
}

// readmeDefaults parses the rows of the table under "## Settings": a
// row's first cell names one or more variables, the second their
// defaults, both comma-separated.
func readmeDefaults(t *testing.T, readme string) map[string]string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Settings\n")
	if !ok {
		t.Fatal("README has no ## Settings section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	out := map[string]string{}
	for line := range strings.Lines(section) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a row of variables (header, separator, prose)
		}
		names := strings.Split(cells[1], ",")
		defaults := strings.Split(cells[2], ",")
		if len(defaults) != len(names) {
			defaults = []string{cells[2]} // one default in words for all
		}
		for i, n := range names {
			out[strings.Trim(strings.TrimSpace(n), "`")] = strings.TrimSpace(defaults[min(i, len(defaults)-1)])
		}
	}
	if len(out) == 0 {
		t.Fatal("no rows found in the README's settings table")
	}
	return out
}

// formatDefault writes a default the way the README does.
func formatDefault(v any) string {
	switch v := v.(type) {
	case time.Duration:
		if v%time.Second == 0 {
			return fmt.Sprintf("%ds", v/time.Second)
		}
		return fmt.Sprintf("%dms", v/time.Millisecond)
	case slog.Level:
		return strings.ToLower(v.String())
	default:
		return fmt.Sprint(v)
	}
}

// TestPlaintextEtcdOnlyOnLoopback: a node refuses to put plaintext etcd
// where others can reach it, unless told to.
func TestPlaintextEtcdOnlyOnLoopback(t *testing.T) {
	loopback := defaultSettings()
	for _, tc := range []struct {
		name   string
		adjust func(*settings)
		ok     bool
	}{
		{"the default: one node on loopback", func(*settings) {}, true},
		{"localhost and ::1", func(s *settings) {
			s.PeerURL, s.ClientURL = "http://localhost:2380", "http://[::1]:2379"
		}, true},
		{"a host name", func(s *settings) { s.PeerURL = "http://stego-node1:2380" }, false},
		{"no scheme", func(s *settings) { s.PeerURL = "localhost:2380" }, false},
		{"all interfaces", func(s *settings) { s.ClientURL = "http://0.0.0.0:2379" }, false},
		{"another member off loopback", func(s *settings) {
			s.InitialCluster = "node1=http://127.0.0.1:2380,node2=http://10.0.0.2:2380"
		}, false},
		{"allowed explicitly", func(s *settings) {
			s.PeerURL, s.AllowPlaintext = "http://stego-node1:2380", true
		}, true},
		{"with certificates", func(s *settings) {
			s.PeerURL, s.TLSDir = "https://stego-node1:2380", "/certs/stego-node1"
		}, true},
	} {
		s := loopback
		tc.adjust(&s)
		if err := s.check(); (err == nil) != tc.ok {
			t.Errorf("%s: check() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestSettingsNumbers: durations, counts and sizes that make no sense
// are refused at start, naming the variable, instead of panicking in a
// ticker (a negative PROBE_INTERVAL did), losing the lease every second
// (a renewal as slow as the lease) or refusing every large extract (a
// budget smaller than two uploads).
func TestSettingsNumbers(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		adjust     func(*settings)
	}{
		{"the defaults", "", func(*settings) {}},
		{"a negative probe interval", "PROBE_INTERVAL", func(s *settings) { s.ProbeEvery = -time.Second }},
		{"a zero keepalive", "KEEPALIVE_INTERVAL", func(s *settings) { s.KeepAlive = 0 }},
		{"a renewal as slow as the lease", "KEEPALIVE_INTERVAL", func(s *settings) { s.KeepAlive = 3 * time.Second }},
		{"a longer lease for it", "", func(s *settings) { s.KeepAlive, s.LeaseTTL = 3*time.Second, 6 }},
		{"a slow renewal on a worker, which holds no lease", "", func(s *settings) {
			s.Role, s.Endpoints, s.KeepAlive = string(coordinator.RoleWorker), []string{"http://127.0.0.1:2379"}, 3*time.Second
		}},
		{"a negative shutdown timeout", "SHUTDOWN_TIMEOUT", func(s *settings) { s.ShutdownTimeout = -time.Second }},
		{"a negative job timeout", "JOB_TIMEOUT", func(s *settings) { s.JobTimeout = -time.Second }},
		{"negative workers", "WORKERS", func(s *settings) { s.Workers = -2 }},
		{"workers per CPU", "", func(s *settings) { s.Workers = 0 }},
		{"a negative queue", "QUEUE", func(s *settings) { s.Queue = -5 }},
		{"no queue", "", func(s *settings) { s.Queue = 0 }},
		{"a negative upload limit", "MAX_UPLOAD_MB", func(s *settings) { s.MaxUploadMB = -1 }},
		{"a negative memory limit", "MEMORY_LIMIT_MB", func(s *settings) { s.MemoryLimitMB = -1 }},
		{"no memory limit", "", func(s *settings) { s.MemoryLimitMB = 0 }},
		{"a budget under two uploads", "MEMORY_BUDGET_MB", func(s *settings) { s.MemoryBudgetMB = 40 }},
		{"an address whose port is a word", "HTTP_ADDR", func(s *settings) { s.HTTPAddr = ":notaport" }},
		{"an address without a port", "HTTP_ADDR", func(s *settings) { s.HTTPAddr = "127.0.0.1" }},
		{"a port too large", "HTTP_ADDR", func(s *settings) { s.HTTPAddr = ":70000" }},
		{"a host and port", "", func(s *settings) { s.HTTPAddr = "127.0.0.1:8080" }},
		{"a service name", "", func(s *settings) { s.HTTPAddr = ":http" }},
	} {
		s := defaultSettings()
		tc.adjust(&s)
		err := s.check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: check() = %v, want ok", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: check() = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

// TestSettingsThatDoNotParse: a value that does not parse is reported
// with its variable and what that wants, not with Go's type names.
func TestSettingsThatDoNotParse(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"LOG_LEVEL", "loud", `LOG_LEVEL="loud": want debug, info, warn or error`},
		{"JOB_TIMEOUT", "5", `JOB_TIMEOUT="5": want a duration such as 500ms or 2s`},
		{"ETCD_ALLOW_PLAINTEXT", "maybe", `ETCD_ALLOW_PLAINTEXT="maybe": want true or false`},
		{"WORKERS", "two", `WORKERS="two": want a whole number`},
		{"ETCD_TICK_MS", "-5", `ETCD_TICK_MS="-5": want a whole number, 0 or more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			if _, err := fromEnvironment(); err == nil || err.Error() != tc.want {
				t.Errorf("fromEnvironment() = %v, want %s", err, tc.want)
			}
		})
	}
	if _, err := fromEnvironment(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

// TestMemberAddress: a member without ADVERTISE_IP advertises its
// PEER_URL's address, which is what the others know it at.
func TestMemberAddress(t *testing.T) {
	for _, tc := range []struct {
		name, peerURL, advertise string
		addrs                    []string
		resolveErr               error
		want                     string
	}{
		{"ADVERTISE_IP wins", "https://stego-node1:2380", "10.9.9.9", []string{"10.0.0.5"}, nil, "10.9.9.9"},
		{"the default: loopback", "http://127.0.0.1:2380", "", nil, nil, "127.0.0.1"},
		{"three shells on one machine, whatever the host's name", "http://127.0.0.1:2382", "", []string{"10.0.0.5"}, nil, "127.0.0.1"},
		{"a Swarm task: its name's address", "https://stego-node1:2380", "", []string{"10.0.1.7"}, nil, "10.0.1.7"},
		{"loopback first, then the task's", "https://stego-node1:2380", "", []string{"127.0.1.1", "10.0.1.7"}, nil, "10.0.1.7"},
		{"localhost", "http://localhost:2380", "", []string{"127.0.0.1"}, nil, "127.0.0.1"},
		{"an unspecified address: the default", "http://0.0.0.0:2380", "", nil, nil, "127.0.0.1"},
		{"no name resolution: the default", "https://stego-node1:2380", "", nil, errors.New("no such host"), "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultSettings()
			s.PeerURL = tc.peerURL
			env := map[string]string{}
			if tc.advertise != "" {
				s.AdvertiseIP, env["ADVERTISE_IP"] = tc.advertise, tc.advertise
			}
			isSet := func(name string) bool { _, ok := env[name]; return ok }
			resolve := func(string) ([]string, error) { return tc.addrs, tc.resolveErr }
			s.fillMemberAddress(isSet, resolve)
			if s.AdvertiseIP != tc.want {
				t.Errorf("advertises %s, want %s", s.AdvertiseIP, tc.want)
			}
		})
	}
}

// TestWorkerSettings: a worker needs its members, follows the same
// plaintext rule for them, and takes an identity of its own from its
// host when its environment (shared by every replica) gives none.
func TestWorkerSettings(t *testing.T) {
	hostAddrs := []string{"127.0.1.1", "172.30.0.7"}
	loopbackOnly := []string{"127.0.1.1"} // Debian's /etc/hosts
	// The route to a member: what sourceAddrToward finds, faked so that
	// the test never looks past loopback.
	routeTo := func(endpoint string) (string, error) {
		switch {
		case strings.Contains(endpoint, "127.0.0.1"):
			return "127.0.0.1", nil
		case strings.Contains(endpoint, "gone"):
			return "", errors.New("no such host")
		}
		return "10.1.2.3", nil
	}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		addrs      []string // the host name's addresses
		wantID, ip string
		ok         bool
	}{
		{"endpoints on loopback, identity from the host", map[string]string{"ETCD_ENDPOINTS": "http://127.0.0.1:2379"}, hostAddrs, "c0ffee", "172.30.0.7", true},
		{"no endpoints", map[string]string{}, hostAddrs, "", "", false},
		{"plaintext endpoints off loopback", map[string]string{"ETCD_ENDPOINTS": "http://stego-node1:2379"}, hostAddrs, "", "", false},
		{"TLS endpoints", map[string]string{"ETCD_ENDPOINTS": "https://stego-node1:2379,https://stego-node2:2379", "ETCD_TLS_DIR": "/certs/w"}, hostAddrs, "c0ffee", "172.30.0.7", true},
		{"identity given", map[string]string{"ETCD_ENDPOINTS": "http://127.0.0.1:2379", "NODE_ID": "w1", "ADVERTISE_IP": "10.0.0.9"}, loopbackOnly, "w1", "10.0.0.9", true},
		{"host name on loopback only, members elsewhere: the route to them", map[string]string{"ETCD_ENDPOINTS": "https://stego-node1:2379", "ETCD_TLS_DIR": "/certs/w"}, loopbackOnly, "c0ffee", "10.1.2.3", true},
		{"host name on loopback only, members on loopback", map[string]string{"ETCD_ENDPOINTS": "http://127.0.0.1:2379"}, loopbackOnly, "c0ffee", "127.0.0.1", true},
		{"host name on loopback only, the first member on loopback", map[string]string{"ETCD_ENDPOINTS": "https://127.0.0.1:2379,https://stego-node2:2379", "ETCD_TLS_DIR": "/certs/w"}, loopbackOnly, "c0ffee", "10.1.2.3", true},
		{"host name on loopback only, the first member unknown", map[string]string{"ETCD_ENDPOINTS": "https://gone:2379,https://stego-node2:2379", "ETCD_TLS_DIR": "/certs/w"}, loopbackOnly, "c0ffee", "10.1.2.3", true},
		{"host name on loopback only, no member known", map[string]string{"ETCD_ENDPOINTS": "https://gone:2379", "ETCD_TLS_DIR": "/certs/w"}, loopbackOnly, "", "", false},
		{"an unknown role", map[string]string{"ROLE": "observer"}, hostAddrs, "", "", false},
	} {
		resolve := func(string) ([]string, error) { return tc.addrs, nil }
		for k, v := range map[string]string{"ROLE": "worker"} {
			if _, ok := tc.env[k]; !ok {
				tc.env[k] = v
			}
		}
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		s := defaultSettings()
		if err := envconfig.Process("", &s); err != nil {
			t.Fatal(err)
		}
		isSet := func(name string) bool { _, ok := tc.env[name]; return ok }
		err := s.fillWorkerIdentity(isSet, "c0ffee", resolve, routeTo)
		if err == nil {
			err = s.check()
		}
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		} else if tc.ok && (s.NodeID != tc.wantID || s.AdvertiseIP != tc.ip) {
			t.Errorf("%s: id %q at %s, want %q at %s", tc.name, s.NodeID, s.AdvertiseIP, tc.wantID, tc.ip)
		}
		for k := range tc.env {
			os.Unsetenv(k)
		}
	}
}

// TestWithSpareProc: one Go processor more than the CPUs, unless the
// operator chose GOMAXPROCS.
func TestWithSpareProc(t *testing.T) {
	for _, tc := range []struct {
		procs   int
		userSet bool
		want    int
	}{
		{2, false, 3},
		{1, false, 2},
		{2, true, 2},
		{1, true, 1},
	} {
		if got := withSpareProc(tc.procs, tc.userSet); got != tc.want {
			t.Errorf("withSpareProc(%d, %v) = %d, want %d", tc.procs, tc.userSet, got, tc.want)
		}
	}
}

// TestSourceAddrToward: the address the kernel would send from, found
// without sending anything; a URL without a host is an error.
func TestSourceAddrToward(t *testing.T) {
	for _, tc := range []struct {
		endpoint, want string
		ok             bool
	}{
		{"http://127.0.0.1:2379", "127.0.0.1", true},
		{"https://127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1:2379", "", false},
		{"https://", "", false},
	} {
		got, err := sourceAddrToward(tc.endpoint)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("sourceAddrToward(%q) = %q, %v; want %q, ok=%v", tc.endpoint, got, err, tc.want, tc.ok)
		}
	}
}

// TestIgnoredSettings: a variable the node's role does not read is
// named, so that setting it is not mistaken for a change; every name
// listed is a real setting.
func TestIgnoredSettings(t *testing.T) {
	for _, tc := range []struct {
		role coordinator.Role
		set  []string
		want string
	}{
		{coordinator.RoleMember, []string{"PEER_URL", "LEASE_TTL", "WORKERS"}, ""},
		{coordinator.RoleMember, []string{"ETCD_ENDPOINTS", "PEER_URL"}, "ETCD_ENDPOINTS"},
		{coordinator.RoleWorker, []string{"ETCD_ENDPOINTS", "WORKERS", "ADMIN_TOKEN"}, ""},
		{coordinator.RoleWorker, []string{"ETCD_ENDPOINTS", "LEASE_TTL", "PEER_URL", "SUSPECT_AFTER", "SUSPECT_SLOW_AFTER"}, "PEER_URL,LEASE_TTL,SUSPECT_AFTER"},
	} {
		isSet := func(name string) bool { return slices.Contains(tc.set, name) }
		if got := strings.Join(ignoredSettings(tc.role, isSet), ","); got != tc.want {
			t.Errorf("%s with %v: ignored %q, want %q", tc.role, tc.set, got, tc.want)
		}
	}
	known := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[settings]()) {
		known[f.Tag.Get("envconfig")] = true
	}
	for _, name := range append(slices.Clone(memberOnly), workerOnly...) {
		if !known[name] {
			t.Errorf("%s is listed as role-specific but is no setting", name)
		}
	}
}
