package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/stegocluster/stegocluster/internal/pki"
)

const certsSynopsis = `init DIR NAME[=HOST,…]…  |  renew DIR NAME…

init creates the cluster's certificate authority in DIR (unless DIR has
one) and, for each node NAME without one yet, DIR/NAME with what the node
needs for mutual TLS on etcd's ports: ca.crt, tls.crt, tls.key (point the
node's ETCD_TLS_DIR there). A node's certificate is valid for its name,
localhost, the loopback addresses and the HOSTs listed after "=". It also
writes DIR/etcdctl, a client-only certificate for operators. Existing
certificates are kept, so init is safe to run again, e.g. to add a node.

renew gives each NAME a new key and certificate for the same hosts.
Running members pick them up on their next connection: no restart.`

const certsExamples = `  stegoctl certs init certs stego-node1 stego-node2 stego-node3
  stegoctl certs init certs n1=10.0.0.1,n1.example n2=10.0.0.2 n3=10.0.0.3
  stegoctl certs renew certs stego-node1 etcdctl
  etcdctl --cacert certs/etcdctl/ca.crt --cert certs/etcdctl/tls.crt \
          --key certs/etcdctl/tls.key --endpoints https://127.0.0.1:2379 member list
`

func runCerts(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("certs", certsSynopsis, certsExamples, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return fmt.Errorf("%w: want init or renew, a directory and at least one name", errUsage)
	}
	verb, dir, names := fs.Arg(0), fs.Arg(1), fs.Args()[2:]
	now := time.Now()
	switch verb {
	case "init":
		subjects := []pki.Subject{{Name: pki.ClientName, ClientOnly: true}}
		for _, arg := range names {
			s, err := pki.ParseSubject(arg)
			if err == nil && s.Name == pki.ClientName {
				err = fmt.Errorf("%q is the operators' certificate, not a node's name", s.Name)
			}
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			subjects = append(subjects, s)
		}
		ca, created, err := pki.LoadOrCreate(dir, now)
		if err != nil {
			return err
		}
		if created {
			report(stdout, "created", filepath.Join(dir, pki.CAFile))
		}
		for _, s := range subjects {
			what := "kept"
			if !ca.Has(s.Name) {
				if err := ca.Issue(s, now); err != nil {
					return err
				}
				what = "created"
			}
			report(stdout, what, filepath.Join(dir, s.Name, pki.CertFile))
		}
	case "renew":
		if len(names) == 0 {
			return fmt.Errorf("%w: renew which certificates?", errUsage)
		}
		ca, err := pki.Load(dir)
		if err != nil {
			return err
		}
		for _, name := range names {
			if err := ca.Renew(name, now); err != nil {
				return err
			}
			report(stdout, "renewed", filepath.Join(dir, name, pki.CertFile))
		}
	default:
		return fmt.Errorf("%w: unknown certs command %q (init or renew)", errUsage, verb)
	}
	return nil
}

// report prints what happened to a certificate file, and when it expires.
func report(w io.Writer, what, file string) {
	if exp, err := pki.Expiry(file); err == nil {
		fmt.Fprintf(w, "%-8s %s (expires %s)\n", what, file, exp.UTC().Format(time.DateOnly))
	} else {
		fmt.Fprintf(w, "%-8s %s\n", what, file)
	}
}
