package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stegocluster/stegocluster/internal/poll"
)

// faultTarget is a three-node cluster that `bench failover` can inject
// faults into: one it starts itself, the compose stack, or a running
// compose/cluster.sh cluster.
type faultTarget interface {
	Name() string
	// Nodes are the node ids, as /cluster/status names them.
	Nodes() []string
	// URL is a node's API base URL.
	URL(id string) string
	// Signal delivers sig to the node's process.
	Signal(ctx context.Context, id string, sig syscall.Signal) error
	// WaitExited returns once the node's process has exited.
	WaitExited(ctx context.Context, id string, timeout time.Duration) error
	// Restart starts an exited node again with its data.
	Restart(ctx context.Context, id string) error
	// Hint says where to look when the cluster misbehaves.
	Hint() string
	// Close releases what the target owns (its own cluster: everything).
	Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// processAlive reports whether pid is a running (not zombie) process.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: best effort
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// dockerTarget is the compose stack: one container per node, named by
// the node id.
type dockerTarget struct {
	containers []string
	urls       map[string]string
	signalled  map[string]int // the pid each container had when last signalled
}

func newDockerTarget(ctx context.Context, containers []string) (*dockerTarget, error) {
	if len(containers) != 3 {
		return nil, fmt.Errorf("%w: --containers wants three names", errUsage)
	}
	t := &dockerTarget{containers: containers, urls: map[string]string{}, signalled: map[string]int{}}
	for _, c := range containers {
		out, err := exec.CommandContext(ctx, "docker", "inspect", "-f",
			"{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", c).Output()
		if err != nil {
			return nil, fmt.Errorf("docker inspect %s: %w (is the compose stack up?)", c, err)
		}
		ips := strings.Fields(string(out))
		if len(ips) == 0 {
			return nil, fmt.Errorf("container %s has no address (is it running?)", c)
		}
		t.urls[c] = "http://" + net.JoinHostPort(ips[0], "8080")
	}
	return t, nil
}

func (t *dockerTarget) Name() string         { return "docker" }
func (t *dockerTarget) Nodes() []string      { return t.containers }
func (t *dockerTarget) URL(id string) string { return t.urls[id] }
func (t *dockerTarget) Hint() string         { return "see docker compose logs" }
func (t *dockerTarget) Close()               {}

func (t *dockerTarget) pid(ctx context.Context, id string) (int, error) {
	out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.State.Pid}}", id).Output()
	if err != nil {
		return 0, fmt.Errorf("docker inspect %s: %w", id, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// Signal stops and resumes a container's process directly (so the clock
// starts at the signal), but kills or terminates it through `docker
// kill`, as a user would: Docker then knows the exit was wanted, and its
// restart policy does not restart the node behind the benchmark's back,
// with the growing back-off it applies to containers that keep exiting.
func (t *dockerTarget) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	pid, err := t.pid(ctx, id)
	if err == nil {
		t.signalled[id] = pid
	}
	direct := sig == syscall.SIGSTOP || sig == syscall.SIGCONT
	if direct && err == nil && pid > 0 && syscall.Kill(pid, sig) == nil {
		return nil
	}
	name := strings.TrimPrefix(unixSignalName(sig), "SIG")
	if out, err := exec.CommandContext(ctx, "docker", "kill", "-s", name, id).CombinedOutput(); err != nil {
		return fmt.Errorf("docker kill -s %s %s: %v: %s", name, id, err, out)
	}
	return nil
}

// WaitExited waits until the container stopped, or was already
// restarted by its restart policy (a process killed behind Docker's back
// counts as a crash, and compose's nodes restart unless stopped).
func (t *dockerTarget) WaitExited(ctx context.Context, id string, timeout time.Duration) error {
	return poll.Until(ctx, timeout, id+" to exit", func() bool {
		out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.State.Running}} {{.State.Pid}}", id).Output()
		f := strings.Fields(string(out))
		return err == nil && len(f) == 2 && (f[0] == "false" || f[1] != strconv.Itoa(t.signalled[id]))
	})
}

// Restart starts the container unless its restart policy already has.
func (t *dockerTarget) Restart(ctx context.Context, id string) error {
	if out, err := exec.CommandContext(ctx, "docker", "start", id).CombinedOutput(); err != nil {
		return fmt.Errorf("docker start %s: %v: %s", id, err, out)
	}
	return nil
}

func unixSignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGSTOP:
		return "SIGSTOP"
	case syscall.SIGCONT:
		return "SIGCONT"
	}
	return strconv.Itoa(int(sig))
}

// scriptTarget is a running compose/cluster.sh cluster: node N is
// stego-nodeN, its pid is in DIR/nodeN.pid, and the script's own copy in
// DIR/bin restarts it.
type scriptTarget struct {
	dir  string
	urls map[string]string
}

func newScriptTarget(dir string) (*scriptTarget, error) {
	env, err := os.ReadFile(filepath.Join(dir, "cluster.env"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a compose/cluster.sh cluster: %w", dir, err)
	}
	httpBase := 0
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "HTTP_BASE="); ok {
			httpBase, _ = strconv.Atoi(strings.Trim(v, `"'`))
		}
	}
	if httpBase == 0 {
		return nil, fmt.Errorf("%s/cluster.env has no HTTP_BASE", dir)
	}
	t := &scriptTarget{dir: dir, urls: map[string]string{}}
	for i := range 3 {
		t.urls[fmt.Sprintf("stego-node%d", i+1)] = fmt.Sprintf("http://127.0.0.1:%d", httpBase+i)
	}
	return t, nil
}

func (t *scriptTarget) Name() string { return "cluster-dir" }
func (t *scriptTarget) Nodes() []string {
	return []string{"stego-node1", "stego-node2", "stego-node3"}
}
func (t *scriptTarget) URL(id string) string { return t.urls[id] }
func (t *scriptTarget) Hint() string         { return "logs in " + filepath.Join(t.dir, "log") }
func (t *scriptTarget) Close()               {}

func (t *scriptTarget) pid(id string) (int, error) {
	b, err := os.ReadFile(filepath.Join(t.dir, strings.TrimPrefix(id, "stego-")+".pid"))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", id, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (t *scriptTarget) Signal(_ context.Context, id string, sig syscall.Signal) error {
	pid, err := t.pid(id)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, sig)
}

func (t *scriptTarget) WaitExited(ctx context.Context, id string, timeout time.Duration) error {
	pid, err := t.pid(id)
	if err != nil {
		return err
	}
	return poll.Until(ctx, timeout, id+" to exit", func() bool { return !processAlive(pid) })
}

func (t *scriptTarget) Restart(ctx context.Context, id string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(t.dir, "bin", "cluster.sh"), "start", strings.TrimPrefix(id, "stego-node"))
	cmd.Env = append(os.Environ(), "CLUSTER_DIR="+t.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cluster.sh start %s: %v: %s", id, err, out)
	}
	return nil
}
