package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSubject(t *testing.T) {
	for _, tc := range []struct {
		in    string
		name  string
		hosts []string
		ok    bool
	}{
		{"stego-node1", "stego-node1", nil, true},
		{"n1=10.0.0.1, n1.example ,", "n1", []string{"10.0.0.1", "n1.example"}, true},
		{"../etc", "", nil, false},
		{".hidden", "", nil, false},
		{"", "", nil, false},
		{"a/b=1.2.3.4", "", nil, false},
	} {
		s, err := ParseSubject(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSubject(%q): error %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (s.Name != tc.name || !slices.Equal(s.Hosts, tc.hosts)) {
			t.Errorf("ParseSubject(%q) = %+v, want %s %v", tc.in, s, tc.name, tc.hosts)
		}
	}
}

// TestIssuedCertificatesVerify: a node's certificate is valid, against
// the trust bundle it ships with, as a server for its name, loopback
// and its extra hosts and as a client; the operators' only as a client.
func TestIssuedCertificatesVerify(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a, created, err := LoadOrCreate(dir, now)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate: created %v, %v", created, err)
	}
	if err := a.Issue(Subject{Name: "n1", Hosts: []string{"10.1.2.3", "n1.example"}}, now); err != nil {
		t.Fatal(err)
	}
	if err := a.Issue(Subject{Name: ClientName, ClientOnly: true}, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host string
		usage      x509.ExtKeyUsage
		ok         bool
	}{
		{"n1", "n1", x509.ExtKeyUsageServerAuth, true},
		{"n1", "127.0.0.1", x509.ExtKeyUsageServerAuth, true},
		{"n1", "10.1.2.3", x509.ExtKeyUsageServerAuth, true},
		{"n1", "n1.example", x509.ExtKeyUsageServerAuth, true},
		{"n1", "n2", x509.ExtKeyUsageServerAuth, false},
		{"n1", "", x509.ExtKeyUsageClientAuth, true},
		{ClientName, "", x509.ExtKeyUsageClientAuth, true},
		{ClientName, "localhost", x509.ExtKeyUsageServerAuth, false},
	} {
		cert, roots := load(t, filepath.Join(dir, tc.name))
		_, err := cert.Verify(x509.VerifyOptions{DNSName: tc.host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
		if (err == nil) != tc.ok {
			t.Errorf("%s for %q usage %v: %v, want ok=%v", tc.name, tc.host, tc.usage, err, tc.ok)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "n1", KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v, want 0600", err, info.Mode().Perm())
	}
	// Loading again finds the same authority and creates nothing.
	b, created, err := LoadOrCreate(dir, now)
	if err != nil || created || !b.cert.Equal(a.cert) {
		t.Errorf("second LoadOrCreate: created %v, err %v, same CA %v", created, err, err == nil && b.cert.Equal(a.cert))
	}
}

// TestRenewKeepsHostsNewKey: renewal is what rotation rests on: a new
// key and serial for the same names.
func TestRenewKeepsHostsNewKey(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	a, _, err := LoadOrCreate(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Issue(Subject{Name: "n1", Hosts: []string{"10.1.2.3"}}, now); err != nil {
		t.Fatal(err)
	}
	before, _ := load(t, filepath.Join(dir, "n1"))
	oldKey, _ := os.ReadFile(filepath.Join(dir, "n1", KeyFile))
	if err := a.Renew("n1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	after, _ := load(t, filepath.Join(dir, "n1"))
	newKey, _ := os.ReadFile(filepath.Join(dir, "n1", KeyFile))
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 || string(oldKey) == string(newKey) {
		t.Error("renewal kept the serial or the key")
	}
	if !slices.Equal(after.DNSNames, before.DNSNames) || len(after.IPAddresses) != len(before.IPAddresses) {
		t.Errorf("renewal changed the hosts: %v %v, was %v %v", after.DNSNames, after.IPAddresses, before.DNSNames, before.IPAddresses)
	}
	if !after.NotAfter.After(before.NotAfter) {
		t.Errorf("renewed certificate expires %v, not after %v", after.NotAfter, before.NotAfter)
	}
}

// TestLoadFindsItsKeyInABundle: while a cluster moves to a new
// authority, ca.crt holds both; Load signs with the one ca.key is for.
func TestLoadFindsItsKeyInABundle(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	now := time.Now()
	old, _, err := LoadOrCreate(oldDir, now)
	if err != nil {
		t.Fatal(err)
	}
	cur, _, err := LoadOrCreate(newDir, now)
	if err != nil {
		t.Fatal(err)
	}
	bundle := append(append([]byte{}, old.trust...), cur.trust...)
	if err := os.WriteFile(filepath.Join(newDir, CAFile), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(newDir)
	if err != nil || !got.cert.Equal(cur.cert) {
		t.Fatalf("Load with a bundle: %v, signs with the new CA: %v", err, err == nil && got.cert.Equal(cur.cert))
	}
	if err := got.Issue(Subject{Name: "n1"}, now); err != nil {
		t.Fatal(err)
	}
	_, roots := load(t, filepath.Join(newDir, "n1"))
	if n := len(roots.Subjects()); n != 2 { //nolint:staticcheck // counting roots, not reading them
		t.Errorf("the node's trust bundle has %d authorities, want both", n)
	}
}

// load reads dir's certificate and trust bundle.
func load(t *testing.T, dir string) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseCerts(b)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("no CA in the bundle")
	}
	return certs[0], roots
}

// TestHalfAnAuthorityIsRefused: with ca.crt or ca.key missing (a key
// moved offline, a lost certificate), LoadOrCreate refuses instead of
// creating a new authority over the remaining half, which would leave
// every certificate the old one signed untrusted.
func TestHalfAnAuthorityIsRefused(t *testing.T) {
	for _, missing := range []string{CAFile, caKey} {
		dir := t.TempDir()
		if _, created, err := LoadOrCreate(dir, time.Now()); err != nil || !created {
			t.Fatalf("create: created %v, %v", created, err)
		}
		kept := caKey
		if missing == caKey {
			kept = CAFile
		}
		before, err := os.ReadFile(filepath.Join(dir, kept))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, missing)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreate(dir, time.Now()); err == nil || !strings.Contains(err.Error(), kept) {
			t.Fatalf("without %s: %v, want an error naming %s", missing, err, kept)
		}
		if after, err := os.ReadFile(filepath.Join(dir, kept)); err != nil || !bytes.Equal(after, before) {
			t.Fatalf("without %s, %s was changed: %v", missing, kept, err)
		}
	}
}
