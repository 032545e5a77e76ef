package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// File names, in DIR for the authority and in DIR/NAME for a node.
const (
	CAFile   = "ca.crt"
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	caKey    = "ca.key"
)

// ClientName is the directory of the operators' client-only certificate.
const ClientName = "etcdctl"

// Validity of what Init makes. A node's certificate is renewed with
// `stegoctl certs renew` (etcd picks the new one up on its next
// connection); the authority outlives many renewals.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
)

// Subject is a certificate to issue: Name is its directory and common
// name; a node's certificate also answers to Hosts (names or addresses)
// besides its name, localhost and the loopback addresses.
type Subject struct {
	Name       string
	Hosts      []string
	ClientOnly bool // a client certificate (operators), not a node's
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ParseSubject parses "NAME" or "NAME=HOST,HOST…" as on the command line
// of `stegoctl certs init`.
func ParseSubject(s string) (Subject, error) {
	name, hosts, _ := strings.Cut(s, "=")
	if !validName.MatchString(name) {
		return Subject{}, fmt.Errorf("node name %q: use letters, digits, '.', '_' and '-' (it names a directory)", name)
	}
	sub := Subject{Name: name}
	for h := range strings.SplitSeq(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			sub.Hosts = append(sub.Hosts, h)
		}
	}
	return sub, nil
}

// Authority signs a cluster's certificates. Its trust bundle is the
// whole of DIR/ca.crt, which may hold an older authority beside the
// current one while a cluster moves from one to the other.
type Authority struct {
	dir   string
	cert  *x509.Certificate
	key   crypto.Signer
	trust []byte
}

// LoadOrCreate loads the authority in dir, or creates one there if dir
// has none (created reports which). Half an authority (ca.crt without
// ca.key, say with the key moved offline, or the reverse) is an error,
// not "none": a new one would overwrite the other half, and every
// certificate the old one signed would stop being trusted.
func LoadOrCreate(dir string, now time.Time) (a *Authority, created bool, err error) {
	a, err = Load(dir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return a, false, err
	}
	for _, name := range []string{CAFile, caKey} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil, false, fmt.Errorf("pki: %s has %s but not the rest of its certificate authority: put the missing file back (a new authority would not trust what the old one signed)", dir, name)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("pki: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("pki: CA key: %w", err)
	}
	tmpl, err := template("stegocluster etcd CA", now, CAValidity)
	if err != nil {
		return nil, false, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, false, fmt.Errorf("pki: CA certificate: %w", err)
	}
	// The key first: a ca.crt without its key would be loaded as an
	// authority that cannot sign.
	if err := writeKey(filepath.Join(dir, caKey), key); err != nil {
		return nil, false, err
	}
	if err := writeFile(filepath.Join(dir, CAFile), pemCert(der), 0o644); err != nil {
		return nil, false, err
	}
	a, err = Load(dir)
	return a, err == nil, err
}

// Load loads the authority in dir: the key in ca.key and, among the
// certificates in ca.crt, the one that key belongs to.
func Load(dir string) (*Authority, error) {
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKey))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	trust, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", filepath.Join(dir, caKey), err)
	}
	certs, err := parseCerts(trust)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", filepath.Join(dir, CAFile), err)
	}
	for _, c := range certs {
		if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(key.Public()) {
			return &Authority{dir: dir, cert: c, key: key, trust: trust}, nil
		}
	}
	return nil, fmt.Errorf("pki: no certificate in %s is ca.key's", filepath.Join(dir, CAFile))
}

// Has reports whether name already has a certificate.
func (a *Authority) Has(name string) bool {
	_, err := os.Stat(filepath.Join(a.dir, name, CertFile))
	return err == nil
}

// Issue writes a new key and certificate for s, with the trust bundle,
// into DIR/NAME, replacing what was there.
func (a *Authority) Issue(s Subject, now time.Time) error {
	if !validName.MatchString(s.Name) {
		return fmt.Errorf("pki: invalid name %q", s.Name)
	}
	tmpl, err := template(s.Name, now, LeafValidity)
	if err != nil {
		return err
	}
	if tmpl.NotAfter.After(a.cert.NotAfter) {
		tmpl.NotAfter = a.cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if !s.ClientOnly {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		for _, h := range append([]string{s.Name, "localhost", "127.0.0.1", "::1"}, s.Hosts...) {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: key for %s: %w", s.Name, err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return fmt.Errorf("pki: certificate for %s: %w", s.Name, err)
	}
	dir := filepath.Join(a.dir, s.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := writeFile(filepath.Join(dir, CAFile), a.trust, 0o644); err != nil {
		return err
	}
	// etcd reads the pair on each new connection; a handshake between
	// the two renames finds a mismatched pair and fails, the next one
	// succeeds.
	if err := writeKey(filepath.Join(dir, KeyFile), key); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CertFile), pemCert(der), 0o644)
}

// Renew issues name a new key and certificate for the same hosts and
// use as its current one.
func (a *Authority) Renew(name string, now time.Time) error {
	b, err := os.ReadFile(filepath.Join(a.dir, name, CertFile))
	if err != nil {
		return fmt.Errorf("pki: renew %s: %w", name, err)
	}
	certs, err := parseCerts(b)
	if err != nil {
		return fmt.Errorf("pki: renew %s: %w", name, err)
	}
	old := certs[0]
	s := Subject{Name: name, ClientOnly: true}
	for _, u := range old.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth {
			s.ClientOnly = false
		}
	}
	s.Hosts = append(s.Hosts, old.DNSNames...)
	for _, ip := range old.IPAddresses {
		s.Hosts = append(s.Hosts, ip.String())
	}
	s.Hosts = withoutDefaults(s.Hosts, name)
	return a.Issue(s, now)
}

// withoutDefaults drops the hosts Issue adds by itself.
func withoutDefaults(hosts []string, name string) []string {
	out := hosts[:0]
	for _, h := range hosts {
		switch h {
		case name, "localhost", "127.0.0.1", "::1":
		default:
			out = append(out, h)
		}
	}
	return out
}

// Expiry is when the certificate in file stops being valid.
func Expiry(file string) (time.Time, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return time.Time{}, fmt.Errorf("pki: %w", err)
	}
	certs, err := parseCerts(b)
	if err != nil {
		return time.Time{}, fmt.Errorf("pki: %s: %w", file, err)
	}
	return certs[0].NotAfter, nil
}

func template(cn string, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"stegocluster"}},
		NotBefore:    now.Add(-time.Hour), // tolerate clocks a little behind
		NotAfter:     now.Add(validity),
	}, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", k)
	}
	return s, nil
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeFile replaces path with data atomically: written aside, synced,
// renamed into place.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: a no-op
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	return nil
}
