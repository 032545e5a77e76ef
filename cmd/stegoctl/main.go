// Command stegoctl is the stegocluster command-line tool. The offline
// commands (embed, extract, capacity, analyze) run the codec locally and
// need no server.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
)

// Exit codes, as documented in --help.
const (
	exitOK    = 0
	exitFail  = 1 // the operation failed: no hidden data, too large, I/O
	exitUsage = 2 // the command line was wrong
)

// errUsage marks errors that are the caller's command line.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
	// batch commands do one bounded piece of work and exit: the garbage
	// collector's work is pure overhead for them (about 10% of an embed).
	batch bool
}

func commands() []command {
	return []command{
		{"embed", "hide a secret file in a cover image", runEmbed, true},
		{"extract", "recover the secret hidden in an image", runExtract, true},
		{"capacity", "how many bytes a cover can hide", runCapacity, true},
		{"analyze", "steganalysis of an image (chi-square, RS, SPA, JPEG compatibility, the trained rich model, PSNR)", runAnalyze, true},
		{"status", "the cluster as a table (leader, roles, health, load)", runStatus, false},
		{"bench", "bench failover: time leader failover under injected faults", runBench, false},
		{"health", "exit 0 if a node answers 200 (the container health check)", runHealth, false},
		{"load", "closed-loop load with verified round trips, per-node split", runLoad, false},
		{"certs", "certificates for etcd's mutual TLS (init, renew)", runCerts, false},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "help" { // `stegoctl help embed`: embed's own help
		args = append(slices.Clone(args[1:]), "--help") // not into the caller's array
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if c.batch {
			// Collect only if the heap nears a limit far above what even
			// a 50-megapixel image needs.
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(2 << 30))
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
		}
		err := c.run(args[1:], stdin, stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "stegoctl %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "stegoctl %s: %v\n", c.name, err)
			return exitFail
		}
	}
	fmt.Fprintf(stderr, "stegoctl: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `stegoctl — hide files in images, offline or through a stegocluster.

Usage: stegoctl <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'stegoctl <command> --help' for a command's flags and examples.

Passwords are never taken on the command line: use --password-file F or
the STEGO_PASSWORD environment variable. Without a password the built-in
public key is used and anyone with stegocluster can extract.

Exit status: 0 success, 1 the operation failed, 2 bad command line.
`)
}

// newFlagSet makes a flag set whose --help prints the given examples.
func newFlagSet(name, synopsis, examples string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: stegoctl %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExamples:\n%s", examples)
	}
	return fs
}

// parse parses flags, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

// parseFlagsOnly is parse for a command that takes no arguments besides
// its flags: a stray word (a file meant for a flag, a flag after it,
// which the flag package stops at) is a usage error, not ignored.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q (flags go before them)", errUsage, fs.Args())
	}
	return nil
}
