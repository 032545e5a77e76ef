//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// composeEtcdTLS copies the operators' certificate out of the `certs`
// volume, through the stego-certs container that wrote it (it has
// exited; docker cp still reads it), and returns a TLS config that
// presents it.
func composeEtcdTLS(t *testing.T, c *compose) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("docker", "cp", c.container("stego-certs")+":/certs/etcdctl", dir).CombinedOutput(); err != nil {
		t.Fatalf("docker cp the operators' certificate: %v\n%s", err, out)
	}
	certs := filepath.Join(dir, "etcdctl")
	info := transport.TLSInfo{CertFile: filepath.Join(certs, "tls.crt"), KeyFile: filepath.Join(certs, "tls.key"), TrustedCAFile: filepath.Join(certs, "ca.crt")}
	cfg, err := info.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// composeNetworkAttacks are the attack suite's network items, against
// the compose stack (docs/security.md): etcd refuses clients without a
// certificate of the cluster's CA and is not published on the host, a
// foreign web page cannot call /admin/, and a node entry forged into the
// registry (by someone holding a certificate, the worst case) cannot
// receive a forwarded admin call.
func composeNetworkAttacks(t *testing.T, c *compose, base string) {
	const node1 = "172.28.0.11" // docker-compose.yml's fixed address
	operator := composeEtcdTLS(t, c)
	noCert := operator.Clone()
	noCert.Certificates, noCert.GetClientCertificate = nil, nil

	t.Run("only stego-certs holds the CA key", func(t *testing.T) {
		// The control: the key exists, where only stego-certs mounts it.
		if out, err := exec.Command("docker", "cp", c.container("stego-certs")+":/certs/ca.key", t.TempDir()).CombinedOutput(); err != nil {
			t.Fatalf("docker cp the CA key from stego-certs: %v\n%s", err, out)
		}
		for _, node := range []string{"stego-node1", "stego-node2", "stego-node3"} {
			if out, err := exec.Command("docker", "cp", node+":/certs/ca.key", t.TempDir()).CombinedOutput(); err == nil {
				t.Errorf("%s holds the CA key", node)
			} else if !strings.Contains(string(out), "Could not find") && !strings.Contains(string(out), "No such") {
				t.Errorf("docker cp from %s failed, but not for a missing file: %s", node, out)
			}
			if out, err := exec.Command("docker", "cp", node+":/certs/stego-node2/tls.key", t.TempDir()).CombinedOutput(); (err == nil) != (node == "stego-node2") {
				t.Errorf("%s reading stego-node2's key: %v %s", node, err, out)
			}
		}
	})

	t.Run("etcd refuses clients without a certificate", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			endpoint string
			tls      *tls.Config
			ok       bool
		}{
			{"the operators' certificate", "https://" + node1 + ":2379", operator, true},
			{"TLS, no certificate", "https://" + node1 + ":2379", noCert, false},
			{"plaintext", "http://" + node1 + ":2379", nil, false},
			{"plaintext to the peer port", "http://" + node1 + ":2380", nil, false},
		} {
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{tc.endpoint}, DialTimeout: 2 * time.Second, TLS: tc.tls})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err = cli.Get(ctx, "/stegocluster/state")
			cancel()
			cli.Close()
			if (err == nil) != tc.ok {
				t.Errorf("%s: a Get gave %v, want ok=%v", tc.name, err, tc.ok)
			}
		}
		// A cross-origin page's plaintext POST to etcd's JSON gateway (as
		// a browser would send it) reaches nothing.
		resp, err := http.Post("http://"+node1+":2379/v3/kv/put", "text/plain", strings.NewReader(`{"key":"L3g=","value":"eQ=="}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("plaintext POST /v3/kv/put: %s", resp.Status)
			}
		}
		for _, node := range []string{"stego-node1", "stego-node2", "stego-node3"} {
			if out, _ := exec.Command("docker", "port", node).Output(); len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("%s publishes ports on the host: %s", node, out)
			}
		}
	})

	t.Run("a foreign origin cannot call /admin/", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, base+"/admin/restore", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("preflight for /admin/ from a foreign origin: Access-Control-Allow-Origin %q", v)
		}
	})

	t.Run("a forged registry entry receives no forwarded call", func(t *testing.T) {
		// The intruder's listener, on the stack network's gateway: an
		// address every node reaches.
		ln, err := net.Listen("tcp", "172.28.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var reached atomic.Int32
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			t.Errorf("the intruder received %s %s with Authorization %q", r.Method, r.URL, r.Header.Get("Authorization"))
		}), ReadHeaderTimeout: time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		port := ln.Addr().(*net.TCPAddr).Port

		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + node1 + ":2379"}, DialTimeout: 2 * time.Second, TLS: operator})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		entry, _ := json.Marshal(map[string]any{"id": "evil", "ip": "172.28.0.1", "http_port": port})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, "/stegocluster/nodes/evil", string(entry)); err != nil {
			t.Fatal(err)
		}
		defer cli.Delete(context.Background(), "/stegocluster/nodes/evil")
		// Every node must know it before the call: nginx may send the
		// status request to one node and the admin call to another whose
		// watch has not yet delivered the state (a 404 then, not the 403
		// under test). Six answers in a row through nginx's round robin
		// come from each of the three nodes twice.
		seen := 0
		testenv.WaitFor(t, 10*time.Second, "the forged node in every node's /cluster/status", func() bool {
			if st, err := getStatus(base); err == nil && st.Node("evil") != nil {
				seen++
			} else {
				seen = 0
			}
			return seen >= 6
		})
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/nodes/evil/fail", strings.NewReader(`{"action":"pause"}`))
		req.Header.Set("Authorization", "Bearer "+composeAdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Code string `json:"code"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || body.Code != "not_member" {
			t.Errorf("admin call for the forged node: %d %q, want 403 not_member", resp.StatusCode, body.Code)
		}
		if n := reached.Load(); n > 0 {
			t.Errorf("the forged node's listener was reached %d times", n)
		}
	})
}
