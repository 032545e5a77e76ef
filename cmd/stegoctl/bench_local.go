package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stegocluster/stegocluster/internal/pki"
	"github.com/stegocluster/stegocluster/internal/ports"
)

func findStegod(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "stegod"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("stegod"); err == nil {
		return p, nil
	}
	return "", errors.New("no stegod binary next to stegoctl or on PATH (go build ./cmd/stegod, or --stegod)")
}

func isExecutable(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// processCluster is the benchmark's own cluster: three stegod processes
// on loopback in a temporary directory, which Close removes. Its etcd
// speaks mutual TLS, as compose's and cluster.sh's do, unless
// plaintext (for comparison).
type processCluster struct {
	bin    string
	dir    string
	env    map[string][]string
	urls   map[string]string
	procs  map[string]*exec.Cmd
	exited map[string]chan struct{} // closed when the process has been reaped
	// keepLogs: Hint pointed a user (an error message) at the logs, so
	// Close must not delete them.
	keepLogs bool
}

var processNodes = []string{"n1", "n2", "n3"}

func startProcessCluster(ctx context.Context, bin string, plaintext bool) (*processCluster, error) {
	dir, err := os.MkdirTemp("", "stegoctl-bench-")
	if err != nil {
		return nil, err
	}
	c := &processCluster{bin: bin, dir: dir, env: map[string][]string{}, urls: map[string]string{},
		procs: map[string]*exec.Cmd{}, exited: map[string]chan struct{}{}}
	// Below the ephemeral range: a port picked by listening on port 0
	// could be taken by another program's outgoing connection before the
	// node listened on it (seen in CI, beside other tests).
	base, err := ports.Range(9)
	if err != nil {
		c.Close()
		return nil, err
	}
	var nodePorts [9]int
	for i := range nodePorts {
		nodePorts[i] = base + i
	}
	scheme := "https"
	if plaintext {
		scheme = "http"
	} else if err := makeCerts(filepath.Join(dir, "certs"), processNodes); err != nil {
		c.Close()
		return nil, err
	}
	var initial []string
	for i, id := range processNodes {
		initial = append(initial, fmt.Sprintf("%s=%s://127.0.0.1:%d", id, scheme, nodePorts[3*i+1]))
	}
	for i, id := range processNodes {
		c.urls[id] = fmt.Sprintf("http://127.0.0.1:%d", nodePorts[3*i])
		c.env[id] = append(os.Environ(),
			"NODE_ID="+id, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", nodePorts[3*i]),
			fmt.Sprintf("PEER_URL=%s://127.0.0.1:%d", scheme, nodePorts[3*i+1]), fmt.Sprintf("CLIENT_URL=%s://127.0.0.1:%d", scheme, nodePorts[3*i+2]),
			"INITIAL_CLUSTER="+strings.Join(initial, ","), "DATA_DIR="+filepath.Join(dir, id),
			"CLUSTER_TOKEN=bench", "ADMIN_TOKEN=bench-admin-token-not-secret", "LOG_LEVEL=warn")
		if !plaintext {
			c.env[id] = append(c.env[id], "ETCD_TLS_DIR="+filepath.Join(dir, "certs", id))
		}
		if err := c.Restart(ctx, id); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *processCluster) Name() string         { return "local" }
func (c *processCluster) Nodes() []string      { return processNodes }
func (c *processCluster) URL(id string) string { return c.urls[id] }
func (c *processCluster) Hint() string {
	c.keepLogs = true
	return "logs in " + c.dir + " (kept)"
}

// Restart starts node id (again), its output appended to DIR/id.log.
func (c *processCluster) Restart(_ context.Context, id string) error {
	logf, err := os.OpenFile(filepath.Join(c.dir, id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env[id], logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start stegod: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	c.procs[id], c.exited[id] = cmd, exited
	return nil
}

func (c *processCluster) Signal(_ context.Context, id string, sig syscall.Signal) error {
	p := c.procs[id]
	if p == nil {
		return fmt.Errorf("%s was never started", id)
	}
	return p.Process.Signal(sig)
}

func (c *processCluster) WaitExited(ctx context.Context, id string, timeout time.Duration) error {
	select {
	case <-c.exited[id]:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s", id, timeout)
	}
}

// Close kills every process, waits for it and removes the directory,
// unless Hint has sent a user to the logs in it.
func (c *processCluster) Close() {
	for id, p := range c.procs {
		p.Process.Signal(syscall.SIGCONT)
		p.Process.Kill()
		<-c.exited[id]
	}
	if !c.keepLogs {
		os.RemoveAll(c.dir)
	}
}

// makeCerts makes a CA and the nodes' certificates in dir.
func makeCerts(dir string, nodes []string) error {
	ca, _, err := pki.LoadOrCreate(dir, time.Now())
	if err != nil {
		return err
	}
	for _, id := range nodes {
		if err := ca.Issue(pki.Subject{Name: id}, time.Now()); err != nil {
			return err
		}
	}
	return nil
}
