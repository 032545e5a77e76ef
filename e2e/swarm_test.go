//go:build e2e && swarm

// Run by .ci/run after the rest of the end-to-end suite (it makes and
// leaves a swarm, which the other tests must not see):
//
//	go test -tags e2e,swarm -count=1 -run TestSwarmStack -v ./e2e/
//
// It needs root (it makes a network interface) and iproute2's `ip`.

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/pki"
	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/wire"
)

const swarmStack = "stegoswarm"

// TestSwarmStack deploys compose/stack.yml on a single-node swarm made
// for the test from the locally built images: three pinned members and a
// replicated worker service behind nginx, a round trip through it, then
// the workers scaled from 1 to 2. The engine is left as it was found: a
// swarm the test did not make is never touched (the test fails instead),
// and the one it made is left again, with the stack's volumes and the
// docker_gwbridge network removed.
func TestSwarmStack(t *testing.T) {
	newCompose(t) // the same engine checks; images built below
	if state := dockerOut(t, "info", "--format", "{{.Swarm.LocalNodeState}}"); state != "inactive" {
		t.Fatalf("this engine is already in a swarm (%s): the test makes and leaves a swarm of its own, so it will not run here", state)
	}
	if out, err := exec.Command("docker/build-images.sh").CombinedOutput(); err != nil {
		t.Fatalf("build images: %v\n%s", err, out)
	}
	// swarm init makes docker_gwbridge, which leaving keeps: remove it
	// afterwards if the test made it.
	hadGWBridge := exec.Command("docker", "network", "inspect", "docker_gwbridge").Run() == nil
	addr := swarmAddress(t)
	if out, err := exec.Command("docker", "swarm", "init", "--advertise-addr", addr).CombinedOutput(); err != nil {
		t.Fatalf("swarm init: %v\n%s", err, out)
	}
	t.Cleanup(func() { swarmCleanup(t, hadGWBridge) })

	certs := filepath.Join(t.TempDir(), "certs")
	ca, _, err := pki.LoadOrCreate(certs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stego-node1", "stego-node2", "stego-node3", "stego-worker"} {
		if err := ca.Issue(pki.Subject{Name: name}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	self := dockerOut(t, "info", "--format", "{{.Swarm.NodeID}}")
	dockerOut(t, "node", "update", "--label-add", "stego-node1=true", "--label-add", "stego-node2=true",
		"--label-add", "stego-node3=true", self)

	port := testenv.FreePort(t)
	deploy := exec.Command("docker", "stack", "deploy", "-c", "../compose/stack.yml", swarmStack)
	deploy.Env = append(os.Environ(), "ADMIN_TOKEN="+composeAdminToken, fmt.Sprintf("STEGO_HTTP_PORT=%d", port),
		"STEGO_CERTS="+certs, "STEGO_WORKERS=1", "STEGO_NGINX_IMAGE=stegocluster-nginx:ci")
	if out, err := deploy.CombinedOutput(); err != nil {
		t.Fatalf("stack deploy: %v\n%s", err, out)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitWorkers := func(n int) *wire.ClusterState {
		t.Helper()
		var st *wire.ClusterState
		testenv.WaitFor(t, 120*time.Second, fmt.Sprintf("three members and %d workers healthy through nginx", n), func() bool {
			s, err := getStatus(base)
			if err != nil || s.LeaderID == "" {
				return false
			}
			members, workers := 0, 0
			for _, node := range s.Nodes {
				switch {
				case !node.Healthy:
				case node.Role == wire.RoleWorker:
					workers++
				default:
					members++
				}
			}
			st = s
			return members == 3 && workers == n
		})
		return st
	}
	st := waitWorkers(1)
	t.Logf("leader %s, epoch %d, %d nodes", st.LeaderID, st.Epoch, len(st.Nodes))
	// Between hosts the overlay carries secrets and passwords in plain
	// HTTP: the stack asks for it encrypted.
	if enc := dockerOut(t, "network", "inspect", "-f", `{{index .Options "encrypted"}}`, swarmStack+"_stegonet"); strings.TrimSpace(enc) != "true" {
		t.Errorf("the overlay network's encrypted option: %q, want true", enc)
	}
	// Members advertise their tasks' addresses: followers probe the
	// leader there, and a node forwards admin calls there. They used to
	// advertise 127.0.0.1, and so reached themselves.
	for _, n := range st.Nodes {
		if ip := net.ParseIP(n.IP); ip == nil || ip.IsLoopback() {
			t.Errorf("%s advertises %q, not its task's address", n.ID, n.IP)
		}
	}
	for _, member := range []string{"stego-node1", "stego-node2", "stego-node3"} {
		for range 3 { // through nginx: reaching each member, which forwards to the others
			// A member whose task started a moment ago may have no
			// cluster state yet, and says so (503 no_state, "retry"):
			// that, and only that, is asked again, for up to 10 s.
			var status int
			var body []byte
			var by string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				req, err := http.NewRequest("POST", base+"/admin/nodes/"+member+"/restore", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+composeAdminToken)
				resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
				if err != nil {
					t.Fatalf("admin call for %s: %v", member, err)
				}
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				status, by = resp.StatusCode, resp.Header.Get("X-Node-ID")
				if status != http.StatusServiceUnavailable || !bytes.Contains(body, []byte(`"no_state"`)) || time.Now().After(deadline) {
					break
				}
				t.Logf("admin call for %s: %s has no cluster state yet; again", member, by)
			}
			if status != http.StatusOK {
				t.Errorf("admin call for %s answered by %s: status %d %s", member, by, status, body)
			}
		}
	}
	if err := hideAndReveal(base, bytes.Repeat([]byte("stegocluster swarm e2e "), 500)); err != nil {
		t.Fatal(err)
	}
	dockerOut(t, "service", "scale", "--detach", swarmStack+"_stego-worker=2")
	waitWorkers(2)
	if err := hideAndReveal(base, bytes.Repeat([]byte("two workers now "), 500)); err != nil {
		t.Fatal(err)
	}

	// A member's task replaced: the new task has an address of its own,
	// which nginx (it resolved the old one when it started) must use.
	const member = "stego-node3"
	before := st.Node(member)
	if before == nil {
		t.Fatalf("no %s in the status", member)
	}
	dockerOut(t, "service", "update", "--force", "--detach", swarmStack+"_"+member)
	var after *wire.NodeInfo
	testenv.WaitFor(t, 120*time.Second, member+"'s new task in the status, answering through nginx", func() bool {
		s, err := getStatus(base)
		if err != nil {
			return false
		}
		n := s.Node(member)
		if n == nil || !n.Healthy || n.StartedAt.Equal(before.StartedAt) {
			return false
		}
		after = &n.NodeInfo
		for range 10 { // round robin over three members and two workers
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(base + "/healthz")
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.Header.Get("X-Node-ID") == member {
				return true
			}
		}
		return false
	})
	t.Logf("%s replaced: address %s before, %s after; nginx sends it requests", member, before.IP, after.IP)
	// And not by chance (any reload makes nginx resolve its names again):
	// nginx/workers.sh saw the new address and reloaded nginx for it.
	testenv.WaitFor(t, 10*time.Second, "the load balancer's log to name "+member+"'s new address", func() bool {
		logs, _ := exec.Command("docker", "service", "logs", swarmStack+"_stego-loadbalancer").CombinedOutput()
		for _, line := range strings.Split(string(logs), "\n") {
			if strings.Contains(line, "members at") && strings.Contains(line, after.IP+" ") {
				return true
			}
		}
		return false
	})
}

// swarmAddress gives the swarm an address of its own to advertise, on a
// veth pair the test makes and removes (after the swarm is left:
// cleanups run last-registered first). Advertising 127.0.0.1 deploys
// the stack, but then the overlay network's DNS resolves no service
// name on this engine (Docker 20.10), and the members never find each
// other. 198.18.254.1 is in the range reserved for benchmarking
// (RFC 2544); the pair connects to nothing, so nothing leaves the
// machine.
func swarmAddress(t *testing.T) string {
	t.Helper()
	const link, peer, addr = "stegoswarm0", "stegoswarm1", "198.18.254.1"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("link", "add", link, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", link).CombinedOutput(); err != nil {
			t.Errorf("removing the swarm's interface: %v\n%s", err, out)
		}
	})
	ip("addr", "add", addr+"/30", "dev", link)
	ip("link", "set", link, "up")
	ip("link", "set", peer, "up")
	return addr
}

// swarmCleanup removes the stack, waits for its containers and network
// to go, removes its volumes and leaves the swarm the test made.
func swarmCleanup(t *testing.T, hadGWBridge bool) {
	if t.Failed() {
		out, _ := exec.Command("docker", "service", "ps", "--no-trunc", swarmStack+"_stego-node1", swarmStack+"_stego-worker", swarmStack+"_stego-loadbalancer").CombinedOutput()
		t.Logf("services:\n%s", out)
		for _, svc := range []string{"stego-node1", "stego-loadbalancer"} {
			logs, _ := exec.Command("docker", "service", "logs", "--tail", "15", swarmStack+"_"+svc).CombinedOutput()
			t.Logf("%s's last log lines:\n%s", svc, logs)
		}
	}
	if out, err := exec.Command("docker", "stack", "rm", swarmStack).CombinedOutput(); err != nil {
		t.Errorf("stack rm: %v\n%s", err, out)
	}
	testenv.WaitFor(t, 60*time.Second, "the stack's containers to go", func() bool {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+swarmStack).Output()
		return len(bytes.TrimSpace(out)) == 0
	})
	for _, v := range []string{"node1-data", "node2-data", "node3-data"} {
		testenv.WaitFor(t, 30*time.Second, "volume "+v+" removed", func() bool {
			out, err := exec.Command("docker", "volume", "rm", swarmStack+"_"+v).CombinedOutput()
			return err == nil || strings.Contains(strings.ToLower(string(out)), "no such volume")
		})
	}
	// Leaving a swarm keeps its ingress network's sandbox on this
	// engine until dockerd restarts (moby/moby#24400); removed while
	// still in the swarm, it goes (the command asks for a "y").
	rm := exec.Command("docker", "network", "rm", "ingress")
	rm.Stdin = strings.NewReader("y\n")
	if out, err := rm.CombinedOutput(); err != nil {
		t.Errorf("removing the swarm's ingress network: %v\n%s", err, out)
	}
	if out, err := exec.Command("docker", "swarm", "leave", "--force").CombinedOutput(); err != nil {
		t.Errorf("swarm leave: %v\n%s", err, out)
	}
	if !hadGWBridge {
		testenv.WaitFor(t, 20*time.Second, "the docker_gwbridge network swarm init made to be removed", func() bool {
			return exec.Command("docker", "network", "rm", "docker_gwbridge").Run() == nil
		})
	}
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
