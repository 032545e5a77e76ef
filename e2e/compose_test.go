//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

const composeProject = "stegoe2e"

// composeAdminToken is the stack's ADMIN_TOKEN: compose has no default.
const composeAdminToken = "e2e-compose-admin-token"

// compose runs docker compose (the plugin, or docker-compose where only
// that is installed) on the user's file plus the CI override.
type compose struct {
	t    *testing.T
	bin  []string
	port int
}

func newCompose(t *testing.T) *compose {
	t.Helper()
	// No engine is a failure, not a skip: a green run must mean the stack
	// was tested. Without Docker, leave these tests out with
	// -skip 'Compose|Chaos'.
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Fatalf("no Docker engine for the compose tests (run the others with -skip 'Compose|Chaos'): docker info: %v\n%s", err, out)
	}
	c := &compose{t: t, port: testenv.FreePort(t)}
	if exec.Command("docker", "compose", "version").Run() == nil {
		c.bin = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		c.bin = []string{"docker-compose"}
	} else {
		t.Fatal("a Docker engine exists but neither `docker compose` nor docker-compose is installed")
	}
	return c
}

func (c *compose) run(args ...string) (string, error) { return c.runEnv(nil, args...) }

// runEnv runs compose with extra environment settings.
func (c *compose) runEnv(env []string, args ...string) (string, error) {
	full := append(append([]string{}, c.bin[1:]...), "-p", composeProject,
		"-f", "../compose/docker-compose.yml", "-f", "docker/docker-compose.ci.yml")
	cmd := exec.Command(c.bin[0], append(full, args...)...)
	// compose refuses to run without ADMIN_TOKEN, and the nodes refuse
	// one under 16 characters.
	cmd.Env = append(append(os.Environ(), fmt.Sprintf("STEGO_HTTP_PORT=%d", c.port), "ADMIN_TOKEN="+composeAdminToken), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// container returns the id of service's container in the project (the
// first, should there be several), running or not.
func (c *compose) container(service string) string {
	c.t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+composeProject,
		"--filter", "label=com.docker.compose.service="+service).Output()
	ids := strings.Fields(string(out))
	if err != nil || len(ids) == 0 {
		c.t.Fatalf("no container of %s: %v %s", service, err, out)
	}
	return ids[0]
}

func TestComposeStack(t *testing.T) {
	c := newCompose(t)
	if out, err := exec.Command("docker/build-images.sh").CombinedOutput(); err != nil {
		t.Fatalf("build images: %v\n%s", err, out)
	} else {
		t.Log(strings.TrimSpace(string(out)))
	}
	c.run("down", "-v", "--remove-orphans") // a previous run's leftovers
	t.Cleanup(func() {
		if out, err := c.run("down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := c.run("up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", c.port)

	waitHealthy(t, base, 90*time.Second)
	testenv.WaitFor(t, 60*time.Second, "Docker to report all nodes healthy", func() bool {
		out, _ := exec.Command("docker", "inspect", "-f", "{{.State.Health.Status}}", "stego-node1", "stego-node2", "stego-node3").Output()
		return strings.Count(string(out), "healthy") == 3 && !strings.Contains(string(out), "unhealthy")
	})

	st := steadyState(t, base)
	out, err := exec.Command("docker", "exec", "stego-node1", "etcdctl", "get", "--prefix", "/stegocluster/election/",
		"--sort-by=CREATE", "--order=ASCEND").Output()
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); err != nil || len(lines) < 2 || lines[1] != st.LeaderID {
		t.Fatalf("etcdctl in a container: %v\n%s\nwant the leader %s first", err, out, st.LeaderID)
	}

	composeNetworkAttacks(t, c, base)

	secret := bytes.Repeat([]byte("stegocluster compose e2e "), 2000)
	if err := hideAndReveal(base, secret); err != nil {
		t.Fatal(err)
	}

	failoverUnderLoad(t, base, st, func() (time.Time, error) {
		return dockerKill(t, st.LeaderID)
	})

	// nginx restarts with a member down: Docker's DNS no longer has the
	// dead member's name, and nginx refused to start without it.
	if out, err := exec.Command("docker", "restart", "stego-loadbalancer").CombinedOutput(); err != nil {
		t.Fatalf("docker restart stego-loadbalancer: %v %s", err, out)
	}
	testenv.WaitFor(t, 20*time.Second, "nginx, restarted with "+st.LeaderID+" down, to serve the status", func() bool {
		_, err := getStatus(base)
		return err == nil
	})

	if out, err := exec.Command("docker", "start", st.LeaderID).CombinedOutput(); err != nil {
		t.Fatalf("docker start: %v %s", err, out)
	}
	testenv.WaitFor(t, 60*time.Second, "the restarted node to rejoin healthy", func() bool {
		s, err := getStatus(base)
		return err == nil && s.HealthyCount() == 3
	})
	if err := hideAndReveal(base, secret); err != nil {
		t.Fatal(err)
	}

	t.Run("workers scale out and in under load", func(t *testing.T) { composeScaleWorkers(t, c, base) })

	if out, err := c.run("down", "-v", "--remove-orphans"); err != nil {
		t.Fatalf("compose down -v: %v\n%s", err, out)
	}
	for _, kind := range []string{"ps -a", "volume ls", "network ls"} {
		args := append(strings.Fields(kind), "-q", "--filter", "label=com.docker.compose.project="+composeProject)
		if out, _ := exec.Command("docker", args...).Output(); len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("docker %s: left behind after down -v: %s", kind, out)
		}
	}
}

// dockerKill SIGKILLs a container and returns when it died, as Docker
// recorded it (State.FinishedAt): the failover clock starts there. The
// `docker kill` command itself returns much later on a busy machine
// (400-570 ms in docs/failover.md's runs), and that is Docker's latency,
// not the cluster's.
func dockerKill(t *testing.T, container string) (time.Time, error) {
	t.Helper()
	if out, err := exec.Command("docker", "kill", container).CombinedOutput(); err != nil {
		return time.Time{}, fmt.Errorf("docker kill %s: %v: %s", container, err, out)
	}
	// `docker kill` returns once the signal is sent; the exit is recorded
	// when the process has been reaped.
	var finished string
	testenv.WaitFor(t, 10*time.Second, container+" to exit", func() bool {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}} {{.State.FinishedAt}}", container).Output()
		running, at, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
		finished = at
		return err == nil && running == "false"
	})
	died, err := time.Parse(time.RFC3339Nano, finished)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s's exit time %q: %w", container, finished, err)
	}
	return died, nil
}
