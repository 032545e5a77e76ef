//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

// localCluster is a compose/cluster.sh cluster run by a test.
type localCluster struct {
	t     testing.TB
	dir   string   // CLUSTER_DIR
	env   []string // the script's environment: its settings
	nginx string   // base URL
	// httpBase is node 1's HTTP port; node n's is httpBase+n-1.
	httpBase int
}

// nodeURL is node n's own base URL (n is "1".."3"), not through nginx.
func (c *localCluster) nodeURL(n string) string {
	i, _ := strconv.Atoi(n)
	return fmt.Sprintf("http://127.0.0.1:%d", c.httpBase+i-1)
}

// requireTools fails the test unless the programs compose/cluster.sh
// needs are installed: a missing tool is a broken test machine, not a
// reason to pass without testing.
func requireTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"nginx", "go", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required for the end-to-end tests (Debian: apt-get install nginx curl; .ci/run does): %v", tool, err)
		}
	}
}

// newLocalCluster describes a compose/cluster.sh cluster in a directory
// under t.TempDir(): nginx on nginxPort, the nodes' HTTP ports from
// httpBase, raft and etcd client ports from peerBase, and workers' HTTP
// ports after those six (reserve them if the test adds workers). Cleanup takes it
// down (after logging the nodes' logs if the test failed). An empty
// token leaves ADMIN_TOKEN unset, so that cluster.sh generates one, and
// checks how it does.
func newLocalCluster(t testing.TB, nginxPort, httpBase, peerBase int, token string) *localCluster {
	t.Helper()
	requireTools(t)
	c := &localCluster{t: t, dir: filepath.Join(t.TempDir(), "cluster"), httpBase: httpBase}
	c.env = append(os.Environ(), "CLUSTER_DIR="+c.dir, fmt.Sprintf("NGINX_PORT=%d", nginxPort),
		fmt.Sprintf("HTTP_BASE=%d", httpBase), fmt.Sprintf("PEER_BASE=%d", peerBase),
		fmt.Sprintf("WORKER_BASE=%d", peerBase+6), "ADMIN_TOKEN="+token)
	c.nginx = fmt.Sprintf("http://127.0.0.1:%d", nginxPort)
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
		if out, err := c.script("down"); err != nil {
			t.Errorf("cluster.sh down: %v\n%s", err, out)
		}
	})
	out, err := c.script("up")
	if err != nil {
		t.Fatalf("cluster.sh up: %v\n%s", err, out)
	}
	if token == "" {
		c.checkGeneratedToken(out)
	}
	return c
}

// checkGeneratedToken checks the token cluster.sh generated: at least 16
// characters in CLUSTER_DIR/admin-token, readable by its owner only,
// printed by `cluster.sh token` but neither by `up` nor in the nodes'
// logs, and accepted by the nodes, also for a call one forwards to
// another.
func (c *localCluster) checkGeneratedToken(upOutput string) {
	t := c.t
	t.Helper()
	path := filepath.Join(c.dir, "admin-token")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no generated admin token: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, perm)
	}
	out, err := c.script("token")
	token := strings.TrimSpace(out)
	if err != nil || len(token) < 16 {
		t.Fatalf("cluster.sh token: %v: a %d-character token", err, len(token))
	}
	if strings.Contains(upOutput, token) {
		t.Error("cluster.sh up printed the admin token")
	}
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(c.dir, "log", fmt.Sprintf("node%d.log", i)))
		if err != nil || bytes.Contains(b, []byte(token)) {
			t.Errorf("node%d's log: %v, or it holds the admin token", i, err)
		}
	}
	for _, tc := range []struct {
		name, token string
		want        int
	}{{"the generated token", token, http.StatusOK}, {"another token", token + "x", http.StatusUnauthorized}} {
		req, err := http.NewRequest("POST", c.nginx+"/admin/nodes/stego-node1/restore", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("admin call: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("admin call with %s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// startLocalCluster runs compose/cluster.sh on ten consecutive free
// ports: nginx, three nodes' HTTP, and from base+4 raft and etcd client
// ports in pairs.
// maxTestWorkers is how many workers a test may add to a local cluster.
const maxTestWorkers = 8

func startLocalCluster(t *testing.T) *localCluster {
	t.Helper()
	base := testenv.FreePortRange(t, 10+maxTestWorkers)
	return newLocalCluster(t, base, base+1, base+4, "") // cluster.sh generates the token
}

// dumpLogs logs the nodes' and workers' own log lines (not etcd's), to
// explain a failure after the cluster directory is gone.
func (c *localCluster) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(c.dir, "log", "*.log"))
	for _, path := range logs {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		if !strings.HasPrefix(name, "node") && !strings.HasPrefix(name, "worker") {
			continue // nginx's
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var own []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "time=") {
				own = append(own, line)
			}
		}
		c.t.Logf("%s log:\n%s", name, strings.Join(own[max(0, len(own)-30):], "\n"))
	}
}

// signal sends sig to node n's process (n is "1".."3").
func (c *localCluster) signal(n string, sig syscall.Signal) error {
	b, err := os.ReadFile(filepath.Join(c.dir, "node"+n+".pid"))
	if err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("node %s pid file: %w", n, err)
	}
	return syscall.Kill(pid, sig)
}

func (c *localCluster) script(args ...string) (string, error) {
	cmd := exec.Command("../compose/cluster.sh", args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func getStatus(base string) (*wire.ClusterState, error) { return getStatusWithin(base, 5*time.Second) }

func getStatusWithin(base string, timeout time.Duration) (*wire.ClusterState, error) {
	var s wire.ClusterState
	return &s, getJSONWithin(base+"/cluster/status", &s, timeout)
}

func getJSON(url string, v any) error { return getJSONWithin(url, v, 5*time.Second) }

// getJSONWithin GETs url and decodes a 200 answer's JSON into v.
func getJSONWithin(url string, v any, timeout time.Duration) error {
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// hideAndReveal hides secret through base and reveals it again,
// returning an error unless the bytes come back identical.
func hideAndReveal(base string, secret []byte) error {
	fields := map[string]string{"password": "e2e"}
	png, _, err := postMultipart(base+"/api/embed", "image/png", map[string][]byte{"file": secret}, fields)
	if err != nil {
		return err
	}
	got, _, err := postMultipart(base+"/api/extract", "application/octet-stream", map[string][]byte{"file": png}, fields)
	if err != nil {
		return err
	}
	if sha256.Sum256(got) != sha256.Sum256(secret) {
		return fmt.Errorf("revealed %d bytes differ from the %d hidden", len(got), len(secret))
	}
	return nil
}

// postMultipart posts files and fields as a multipart form to url, asking
// for accept, and returns a 200 answer's body and the node that answered.
func postMultipart(url, accept string, files map[string][]byte, fields map[string]string) ([]byte, string, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for name, data := range files {
		fw, _ := w.CreateFormFile(name, name+".bin")
		fw.Write(data)
	}
	for name, v := range fields {
		w.WriteField(name, v)
	}
	w.Close()
	req, _ := http.NewRequest("POST", url, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept", accept)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %d %.300s", url, resp.StatusCode, b)
	}
	return b, resp.Header.Get("X-Node-ID"), err
}

// failoverBound is the longest an end-to-end test lets a single failover
// take, from the kill to a new leader's state seen through nginx. The
// target is p50 350 ms / p99 600 ms (measured over many trials by
// `stegoctl bench failover`); a single sample here also pays for status
// polling through nginx on a busy two-core machine, hence the margin.
const failoverBound = time.Second

// steadyState waits until the cluster is as it is in service: three
// healthy nodes, one leader, and etcd's raft leadership moved off the
// leader's member (so killing the leader does not also cost a raft
// election). It returns the state.
func steadyState(t *testing.T, base string) *wire.ClusterState {
	t.Helper()
	var st *wire.ClusterState
	testenv.WaitFor(t, 30*time.Second, "three healthy nodes, a leader, raft leadership on another member", func() bool {
		var err error
		st, err = getStatus(base)
		return err == nil && st.HealthyCount() == 3 && st.LeaderID != "" && st.RaftLeader != "" && st.RaftLeader != st.LeaderID
	})
	return st
}

// waitHealthy waits until base serves a state with three healthy nodes
// and a leader, and returns it.
func waitHealthy(t *testing.T, base string, timeout time.Duration) *wire.ClusterState {
	t.Helper()
	var st *wire.ClusterState
	testenv.WaitFor(t, timeout, "three healthy nodes and a leader through "+base, func() bool {
		var err error
		st, err = getStatus(base)
		return err == nil && st.HealthyCount() == 3 && st.LeaderID != ""
	})
	return st
}

// failoverUnderLoad runs two clients hiding and revealing through base,
// calls kill to take the leader in old down, waits for a new leader with
// a higher epoch within failoverBound of the moment kill reports the
// leader died, and fails the test if any client request failed.
func failoverUnderLoad(t *testing.T, base string, old *wire.ClusterState, kill func() (died time.Time, err error)) {
	t.Helper()
	var stop atomic.Bool
	var failures, successes atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 500; i++ {
				if err := hideAndReveal(base, []byte(fmt.Sprintf("client %d request %d", w, i))); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					successes.Add(1)
				}
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	time.Sleep(300 * time.Millisecond)
	start, err := kill()
	if err != nil {
		t.Fatalf("killing the leader %s: %v", old.LeaderID, err)
	}
	testenv.WaitFor(t, 15*time.Second, "a new leader", func() bool {
		s, err := getStatus(base)
		if err == nil && s.LeaderID != "" && s.LeaderID != old.LeaderID && s.Epoch > old.Epoch {
			return true
		}
		return false
	})
	took := time.Since(start)
	t.Logf("new leader published %s after killing %s", took, old.LeaderID)
	if took > failoverBound {
		t.Errorf("failover took %s, more than %s", took, failoverBound)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d requests through nginx failed during failover, first: %v", failures.Load(), failures.Load()+successes.Load(), firstErr.Load())
	}
	t.Logf("%d hide+reveal round trips during the failover, none failed", successes.Load())
}

func TestLocalClusterBehindNginx(t *testing.T) {
	c := startLocalCluster(t)

	st := steadyState(t, c.nginx)
	leaders := 0
	for _, n := range st.Nodes {
		if n.Role == wire.RoleLeader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders in %+v", leaders, st)
	}

	// The election key, as an operator sees it: through the script's
	// etcdctl, built from the etcd version stegod embeds.
	etcdctl := exec.Command("../compose/cluster.sh", "etcdctl", "get", "--prefix", "/stegocluster/election/", "--sort-by=CREATE", "--order=ASCEND")
	etcdctl.Env = c.env
	out, err := etcdctl.Output()
	if err != nil || !strings.Contains(string(out), "\n"+st.LeaderID+"\n") {
		t.Fatalf("etcdctl get --prefix /stegocluster/election/: %v\n%s\nwant the leader %s", err, out, st.LeaderID)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) < 2 || lines[1] != st.LeaderID {
		t.Fatalf("oldest election key holds %q, leader is %s", out, st.LeaderID)
	}

	c.checkEtcdRefusesStrangers()

	secret := bytes.Repeat([]byte("stegocluster e2e "), 3000)
	if err := hideAndReveal(c.nginx, secret); err != nil {
		t.Fatal(err)
	}

	// Kill the leader while clients keep hiding and revealing through
	// nginx: no request may fail, and another node must take over.
	victim := strings.TrimPrefix(st.LeaderID, "stego-node")
	failoverUnderLoad(t, c.nginx, st, func() (time.Time, error) {
		// Signal the process directly: the failover clock starts at the
		// signal, not after the script has seen the process reaped.
		died := time.Now()
		return died, c.signal(victim, syscall.SIGKILL)
	})

	// The killed node comes back with its data and rejoins.
	if out, err := c.script("start", victim); err != nil {
		t.Fatalf("restart: %v %s", err, out)
	}
	testenv.WaitFor(t, 30*time.Second, "the restarted node to be healthy again", func() bool {
		s, err := getStatus(c.nginx)
		return err == nil && s.HealthyCount() == 3
	})
	if err := hideAndReveal(c.nginx, secret); err != nil {
		t.Fatal(err)
	}

	c.checkNginxErrorsAreJSON()

	// down leaves nothing behind.
	if t.Failed() {
		c.dumpLogs()
	}
	if out, err := c.script("down"); err != nil {
		t.Fatalf("down: %v %s", err, out)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory left behind: %v", err)
	}
	if left := processesMentioning(t, c.dir); len(left) > 0 {
		t.Fatalf("processes left behind:\n%s", strings.Join(left, "\n"))
	}
}

// checkNginxErrorsAreJSON: what nginx answers itself — an upload over
// its limit, no node answering — is JSON like the nodes' errors, not an
// HTML page a client cannot parse. It leaves every node killed.
func (c *localCluster) checkNginxErrorsAreJSON() {
	t := c.t
	t.Helper()
	addr := strings.TrimPrefix(c.nginx, "http://")
	for _, tc := range []struct {
		name, request, code string
		status              int
		before              func()
	}{
		{"an upload over 51 MB", "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 60000000\r\n\r\n",
			"too_large", http.StatusRequestEntityTooLarge, nil},
		{"no node answering", "GET /cluster/status HTTP/1.1\r\nHost: x\r\n\r\n", "no_node_answered", http.StatusBadGateway, func() {
			for _, n := range []string{"1", "2", "3"} {
				if out, err := c.script("kill", n); err != nil {
					t.Fatalf("kill %s: %v\n%s", n, err, out)
				}
			}
		}},
	} {
		if tc.before != nil {
			tc.before()
		}
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, tc.request); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var body struct{ Error, Code string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != tc.status || err != nil || body.Code != tc.code || body.Error == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s %+v (%v); want %d JSON with code %q", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, err, tc.status, tc.code)
		}
	}
}

// processesMentioning lists the command lines of this machine's processes
// that contain s (what pgrep -f does, without needing procps).
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(cmdlines) == 0 {
		t.Fatalf("listing processes: %v (%d found)", err, len(cmdlines))
	}
	var found []string
	for _, path := range cmdlines {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		if line := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(line, s) {
			found = append(found, filepath.Base(filepath.Dir(path))+": "+line)
		}
	}
	return found
}

// checkEtcdRefusesStrangers: the members' client ports answer etcdctl
// only with a certificate from the cluster's CA, and renewing every
// certificate (docs/security.md's rotation) keeps the cluster working
// without a restart.
func (c *localCluster) checkEtcdRefusesStrangers() {
	t := c.t
	t.Helper()
	env, err := os.ReadFile(filepath.Join(c.dir, "cluster.env"))
	if err != nil {
		t.Fatal(err)
	}
	var peerBase int
	for line := range strings.SplitSeq(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "peer_base="); ok {
			if peerBase, err = strconv.Atoi(v); err != nil {
				t.Fatalf("cluster.env: %q: %v", line, err)
			}
		}
	}
	if peerBase == 0 {
		t.Fatalf("cluster.env has no peer_base:\n%s", env)
	}
	client := fmt.Sprintf("127.0.0.1:%d", peerBase+1)
	etcdctl := filepath.Join(c.dir, "bin", "etcdctl")
	certs := filepath.Join(c.dir, "certs", "etcdctl")
	// The control: the same etcdctl, endpoint and command, with the
	// operators' certificate, is served (cluster.sh builds bin/etcdctl on
	// its first use). Without it a wrong port or a missing binary would
	// pass for a refusal below.
	if out, err := c.script("etcdctl", "endpoint", "health"); err != nil {
		t.Fatalf("cluster.sh etcdctl endpoint health: %v\n%s", err, out)
	}
	control := exec.Command(etcdctl, "--endpoints=https://"+client, "--cacert="+filepath.Join(certs, "ca.crt"),
		"--cert="+filepath.Join(certs, "tls.crt"), "--key="+filepath.Join(certs, "tls.key"),
		"--command-timeout=2s", "--dial-timeout=2s", "get", "--prefix", "/stegocluster/")
	if out, err := control.CombinedOutput(); err != nil {
		t.Fatalf("etcdctl with the operators' certificate on %s was refused: %v\n%s", client, err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plaintext", []string{"--endpoints=http://" + client}},
		{"TLS without a client certificate", []string{"--endpoints=https://" + client, "--cacert=" + filepath.Join(certs, "ca.crt")}},
	} {
		cmd := exec.Command(etcdctl, append(tc.args, "--command-timeout=2s", "--dial-timeout=2s", "get", "--prefix", "/stegocluster/")...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("etcdctl, %s, was served:\n%s", tc.name, out)
		}
	}
	if out, err := c.script("certs-renew"); err != nil {
		t.Fatalf("cluster.sh certs-renew: %v\n%s", err, out)
	}
	cmd := exec.Command("../compose/cluster.sh", "etcdctl", "endpoint", "health", "--cluster")
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("etcdctl endpoint health with the renewed certificates: %v\n%s", err, out)
	}
}
