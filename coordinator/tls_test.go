package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/stegocluster/stegocluster/internal/pki"
)

// newTLSCluster is a cluster of size members whose etcd traffic is
// mutual TLS with certificates from a CA in the returned directory.
func newTLSCluster(t *testing.T, size int) (*testCluster, string) {
	t.Helper()
	dir := t.TempDir()
	ca, _, err := pki.LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []pki.Subject{{Name: "node1"}, {Name: "node2"}, {Name: "node3"}, {Name: pki.ClientName, ClientOnly: true}} {
		if err := ca.Issue(s, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c := newTestClusterWith(t, size, func(cfg *Config) {
		m := &cfg.Member
		m.PeerURL = strings.ReplaceAll(m.PeerURL, "http://", "https://")
		m.ClientURL = strings.ReplaceAll(m.ClientURL, "http://", "https://")
		m.InitialCluster = strings.ReplaceAll(m.InitialCluster, "http://", "https://")
		m.TLS = TLSDir(filepath.Join(dir, m.Name))
	})
	return c, dir
}

// TestMutualTLS: with TLS files, the members form a cluster and elect a
// leader over TLS, and both of a member's ports serve only holders of a
// certificate from the cluster's CA.
func TestMutualTLS(t *testing.T) {
	c, dir := newTLSCluster(t, 3)
	c.waitState(c.waitLeader(20*time.Second), 3, 20*time.Second)

	// Another authority's certificates, as an outsider would make them.
	foreign := t.TempDir()
	other, _, err := pki.LoadOrCreate(foreign, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Issue(pki.Subject{Name: "node1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	noCert := TLSFiles{CA: filepath.Join(dir, pki.ClientName, pki.CAFile)}

	m := c.configs[0].Member
	for _, tc := range []struct {
		name  string
		url   string
		files TLSFiles
		ok    bool
	}{
		{"operators' certificate", m.ClientURL, TLSDir(filepath.Join(dir, pki.ClientName)), true},
		{"another node's certificate", m.ClientURL, TLSDir(filepath.Join(dir, "node2")), true},
		{"no certificate", m.ClientURL, noCert, false},
		{"another CA's certificate", m.ClientURL, TLSDir(filepath.Join(foreign, "node1")), false},
		{"plaintext", strings.Replace(m.ClientURL, "https://", "http://", 1), TLSFiles{}, false},
	} {
		t.Run("client port/"+tc.name, func(t *testing.T) {
			err := tryClient(tc.url, tc.files)
			if (err == nil) != tc.ok {
				t.Errorf("a Get with %s: %v, want ok=%v", tc.name, err, tc.ok)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		files TLSFiles
		ok    bool
	}{
		{"a member's certificate", TLSDir(filepath.Join(dir, "node2")), true},
		{"no certificate", noCert, false},
		{"another CA's certificate", TLSDir(filepath.Join(foreign, "node1")), false},
	} {
		t.Run("peer port/"+tc.name, func(t *testing.T) {
			// /members is raft's peer handler: what a joining member reads.
			code, _, err := httpsGet(t, m.PeerURL+"/members", tc.files, nil)
			if (err == nil && code == http.StatusOK) != tc.ok {
				t.Errorf("GET /members with %s: %d %v, want ok=%v", tc.name, code, err, tc.ok)
			}
		})
	}
	t.Run("no JSON gateway, no CORS", func(t *testing.T) {
		code, header, err := httpsGet(t, m.ClientURL+"/v3/kv/range", TLSDir(filepath.Join(dir, pki.ClientName)),
			map[string]string{"Origin": "https://evil.example"})
		if err != nil || code != http.StatusNotFound {
			t.Errorf("/v3/kv/range: %d %v, want 404 (gateway off)", code, err)
		}
		if v := header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("Access-Control-Allow-Origin %q for a foreign origin", v)
		}
	})
}

// TestCertificateRenewalNeedsNoRestart: a renewed certificate is what a
// running member presents on its next connection (docs/security.md's
// rotation rests on it), and the cluster keeps working.
func TestCertificateRenewalNeedsNoRestart(t *testing.T) {
	c, dir := newTLSCluster(t, 1)
	c.waitLeader(20 * time.Second)
	m := c.configs[0].Member
	before := servedSerial(t, m.ClientURL, TLSDir(filepath.Join(dir, pki.ClientName)))
	ca, err := pki.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Renew("node1", time.Now()); err != nil {
		t.Fatal(err)
	}
	want := readSerial(t, filepath.Join(dir, "node1", pki.CertFile))
	if got := servedSerial(t, m.ClientURL, TLSDir(filepath.Join(dir, pki.ClientName))); got != want || got == before {
		t.Fatalf("after renewal the member serves serial %s, want the new %s (was %s)", got, want, before)
	}
	if err := tryClient(m.ClientURL, TLSDir(filepath.Join(dir, pki.ClientName))); err != nil {
		t.Errorf("a client after renewal: %v", err)
	}
	// The node's own client presents the renewed certificate too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.nodes[0].member.Client().Put(ctx, KeyPrefix+"after-renewal", "ok"); err != nil {
		t.Errorf("the node's own client after renewal: %v", err)
	}
}

// tryClient makes one linearizable Get through a new client.
func tryClient(endpoint string, files TLSFiles) error {
	cli, err := newClient([]string{endpoint}, files)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = cli.Get(ctx, KeyPrefix)
	return err
}

func httpsGet(t *testing.T, rawURL string, files TLSFiles, header map[string]string) (int, http.Header, error) {
	t.Helper()
	cfg := tlsClientConfig(t, files)
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

func tlsClientConfig(t *testing.T, files TLSFiles) *tls.Config {
	t.Helper()
	info := transport.TLSInfo{TrustedCAFile: files.CA, CertFile: files.Cert, KeyFile: files.Key}
	if files.Cert == "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			t.Fatal(err)
		}
		ca, err := os.ReadFile(files.CA)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(ca)
		return &tls.Config{RootCAs: pool}
	}
	cfg, err := info.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// servedSerial is the serial of the certificate the server at rawURL
// presents to a new connection.
func servedSerial(t *testing.T, rawURL string, files TLSFiles) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, tlsClientConfig(t, files))
	if err != nil {
		t.Fatalf("TLS to %s: %v", u.Host, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func readSerial(t *testing.T, file string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(file, strings.TrimSuffix(file, pki.CertFile)+pki.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.String()
}
