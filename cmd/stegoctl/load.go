package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// defaultLoadRequests is the budget when neither --requests nor
// --duration is given.
const defaultLoadRequests = 200

// runLoad is `stegoctl load`: closed-loop load with verified round trips.
// SIGINT and SIGTERM end the run early; the summary of what ran is still
// printed.
func runLoad(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return loadCommand(ctx, args, stdout, stderr)
}

// loadCommand parses the command line, runs the load and prints the
// report. It returns an error wrapping errUsage for a bad command line,
// and a plain error if any request failed (exit status 1).
func loadCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("load", "--targets URL[,URL...] [--clients N] [--requests N | --duration D] [--op embed|extract|mixed] [--size BYTES] [--json]", `  stegoctl load --targets http://127.0.0.1:8000                       # 200 verified hides through nginx
  stegoctl load --targets http://127.0.0.1:8081,http://127.0.0.1:8082 --clients 4 --duration 30s --op mixed
  stegoctl load --targets http://127.0.0.1:8000 --op extract --requests 1000 --json | jq .throughput_rps

Each client sends its next request as soon as the last one is answered.
embed hides --size fresh random bytes in the node's built-in cover and then
checks the PNG by extracting it (same target) and comparing SHA-256; the
check's time is not in the latency, but its failure is a failure. extract
first makes 8 stego images (not measured), then reveals them in turn and
compares SHA-256. mixed alternates the two.

A request fails on a non-2xx answer (counted by status code), a transport
error ("transport": refused, reset, timeout) or a secret that does not come
back byte for byte ("verify"). Throughput and latency percentiles are of
successful requests; percentiles are exact up to a million requests, then
estimated from a uniform reservoir of a million; the maximum is exact.
Requests cut off by the end of --duration or by SIGINT are not counted.
After a transport failure a client pauses 10 ms before its next request.

--json prints one object: op, targets, clients, size_bytes, duration_s,
total, ok, failed, failures (kind → count; "502", "503", "504",
"transport" and "verify" always present), errors (the first 10 messages),
throughput_rps, throughput_mb_s, latency_ms {p50,p95,p99,max}, per_node
(X-Node-ID → requests answered), interrupted.

Exit status: 0 if no request failed, 1 if any did (or setup failed), 2 bad
command line.
`, stderr)
	targets := fs.String("targets", "", "comma-separated base URLs (http:// if none is given): nginx or nodes (clients are spread over them round-robin)")
	clients := fs.Int("clients", 8, "concurrent closed-loop clients")
	requests := fs.Int("requests", 0, "stop after this many requests in total (default 200 if --duration is not given either)")
	duration := fs.Duration("duration", 0, "stop after this long (with --requests: whichever comes first)")
	op := fs.String("op", opEmbed, "embed, extract or mixed")
	size := fs.Int("size", 4096, "secret size, bytes")
	timeout := fs.Duration("timeout", 30*time.Second, "limit for each HTTP request")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	var pw passwordFlags
	pw.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := loadConfig{clients: *clients, requests: *requests, duration: *duration, op: *op, size: *size, timeout: *timeout}
	if err := cfg.validate(*targets, fs.Args()); err != nil {
		return err
	}
	password, err := pw.password()
	if err != nil {
		return err
	}
	cfg.password = password

	var progress io.Writer
	if !*quiet {
		progress = stderr
	}
	rep, err := runLoadTest(ctx, cfg, progress, isTerminal(stderr))
	if err != nil {
		return err
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else if err := printLoadReport(stdout, rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d requests failed", rep.Failed, rep.Total)
	}
	// Requests still waiting when the run ends are not counted either
	// way: a cluster that never answers must not pass as "0 failed".
	if rep.Total == 0 {
		return errors.New("no request completed: the targets accepted none, or answered none in time")
	}
	return nil
}

// validate checks the flags and fills in the targets and the default budget.
func (c *loadConfig) validate(targets string, rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, rest)
	}
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !strings.Contains(t, "://") { // "127.0.0.1:8000", as one types it (status and health take it too)
			t = "http://" + t
		}
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: --targets: %q is not an http(s) base URL", errUsage, t)
		}
		c.targets = append(c.targets, strings.TrimSuffix(t, "/"))
	}
	switch {
	case len(c.targets) == 0:
		return fmt.Errorf("%w: --targets is required", errUsage)
	case c.clients < 1:
		return fmt.Errorf("%w: --clients must be at least 1", errUsage)
	case c.requests < 0:
		return fmt.Errorf("%w: --requests must not be negative", errUsage)
	case c.duration < 0:
		return fmt.Errorf("%w: --duration must not be negative", errUsage)
	case c.op != opEmbed && c.op != opExtract && c.op != opMixed:
		return fmt.Errorf("%w: --op %q (want embed, extract or mixed)", errUsage, c.op)
	case c.size < 1 || c.size > 50<<20:
		return fmt.Errorf("%w: --size must be 1 byte to 50 MiB", errUsage)
	case c.timeout <= 0:
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	if c.requests == 0 && c.duration == 0 {
		c.requests = defaultLoadRequests
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
