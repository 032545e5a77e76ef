package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// Operations a load run can issue.
const (
	opEmbed   = "embed"
	opExtract = "extract"
	opMixed   = "mixed"
)

// stegoPoolSize is how many stego images extract and mixed runs make
// before measuring, and then extract round-robin.
const stegoPoolSize = 8

// loadConfig is a validated `stegoctl load` command line.
type loadConfig struct {
	targets  []string // base URLs without a trailing slash
	clients  int
	requests int           // 0: no request budget
	duration time.Duration // 0: no time limit
	op       string
	size     int
	password string
	timeout  time.Duration
}

// stegoImage is a stego PNG made during setup and the secret it hides.
type stegoImage struct {
	png  []byte
	sum  [32]byte
	size int
}

// loadRun is one closed-loop run: clients issue requests back to back
// until the budget or the time is used up, or ctx ends.
type loadRun struct {
	cfg    loadConfig
	client *stegoClient
	pool   []stegoImage
	stats  *loadStats
	issued atomic.Int64
}

// runLoadTest sets up (the extract pool), runs the clients, and reports.
// Progress lines go to progress (nil: none). It returns an error only if
// the run could not start; failed requests are in the report.
func runLoadTest(ctx context.Context, cfg loadConfig, progress io.Writer, tty bool) (wire.LoadReport, error) {
	httpClient := newLoadHTTPClient(cfg.clients, cfg.timeout)
	defer httpClient.CloseIdleConnections()
	r := &loadRun{cfg: cfg, client: &stegoClient{http: httpClient, password: cfg.password}, stats: newLoadStats()}
	if cfg.op != opEmbed {
		if err := r.makePool(ctx); err != nil {
			return wire.LoadReport{}, err
		}
	}

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, cfg.duration)
	}
	defer cancel()
	start := time.Now()
	stopProgress := r.startProgress(progress, tty, start)
	var wg sync.WaitGroup
	for i := range cfg.clients {
		wg.Go(func() { r.runClient(runCtx, i) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	rep := r.stats.report(elapsed)
	rep.Op, rep.Targets, rep.Clients, rep.SizeBytes = cfg.op, cfg.targets, cfg.clients, cfg.size
	if secs := elapsed.Seconds(); secs > 0 {
		rep.ThroughputMBs = float64(rep.OK) * float64(cfg.size) / secs / 1e6
	}
	rep.Interrupted = ctx.Err() != nil
	return rep, nil
}

// makePool embeds stegoPoolSize random secrets, spread over the targets,
// and checks each round-trips; this setup is not measured.
func (r *loadRun) makePool(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(0x5e7, 0x1001))
	for i := range stegoPoolSize {
		base := r.cfg.targets[i%len(r.cfg.targets)]
		secret := make([]byte, r.cfg.size)
		fillRandom(rng, secret)
		img := stegoImage{sum: sha256.Sum256(secret), size: len(secret)}
		var last string
		for attempt := 0; attempt < 3 && img.png == nil; attempt++ {
			res := r.client.embed(ctx, base, secret)
			if res.kind == "" {
				res = r.client.verify(ctx, base, res.body, img.sum, img.size, res)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("setup: making stego images: %w", ctx.Err())
			}
			if res.kind == "" {
				img.png = res.body
			}
			last = res.err
		}
		if img.png == nil {
			return fmt.Errorf("setup: stego image %d of %d via %s failed 3 times: %s", i+1, stegoPoolSize, base, last)
		}
		r.pool = append(r.pool, img)
	}
	return nil
}

// runClient is one closed-loop client: it sends to one target
// (clients are spread over targets round-robin) until the request budget
// is spent or ctx ends.
func (r *loadRun) runClient(ctx context.Context, i int) {
	base := r.cfg.targets[i%len(r.cfg.targets)]
	rng := rand.New(rand.NewPCG(uint64(i), 0x10ad))
	secret := make([]byte, r.cfg.size)
	for ctx.Err() == nil {
		n := r.issued.Add(1) - 1
		if r.cfg.requests > 0 && n >= int64(r.cfg.requests) {
			return
		}
		var res callResult
		if r.cfg.op == opEmbed || (r.cfg.op == opMixed && n%2 == 0) {
			fillRandom(rng, secret)
			res = r.client.embed(ctx, base, secret)
			if res.kind == "" {
				res = r.client.verify(ctx, base, res.body, sha256.Sum256(secret), len(secret), res)
			}
		} else {
			img := r.pool[n%int64(len(r.pool))]
			res = r.client.extract(ctx, base, img.png)
			if res.kind == "" && sha256.Sum256(res.body) != img.sum {
				res.kind = kindVerify
				res.err = fmt.Sprintf("extract via node %q gave %d bytes, not the %d-byte secret (SHA-256 differs)", res.node, len(res.body), img.size)
			}
		}
		if cancelled(ctx, res) {
			return // the run ended under this request: not a failure
		}
		r.stats.add(outcome{node: res.node, latency: res.latency, kind: res.kind, err: res.err, resent: res.resent})
		if res.kind == kindTransport {
			// A refused connection fails in microseconds: pause so a dead
			// target does not turn the client into a busy loop that takes
			// the CPUs from the nodes under test.
			sleepCtx(ctx, transportBackoff)
		}
	}
}

// transportBackoff is a client's pause after a transport failure.
const transportBackoff = 10 * time.Millisecond

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// startProgress prints elapsed, done, ok, failed and the last second's
// rate about once a second until the returned stop is called; on a
// terminal the line is overwritten in place.
func (r *loadRun) startProgress(w io.Writer, tty bool, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		lastDone, lastAt := 0, start
		printed := false
		for {
			select {
			case <-done:
				if tty && printed {
					fmt.Fprintln(w)
				}
				return
			case now := <-tick.C:
				n, ok, failed := r.stats.counts()
				rate := float64(n-lastDone) / now.Sub(lastAt).Seconds()
				lastDone, lastAt = n, now
				line := fmt.Sprintf("%6.1fs  done %d  ok %d  failed %d  %.1f req/s", now.Sub(start).Seconds(), n, ok, failed, rate)
				if tty {
					fmt.Fprintf(w, "\r%s\033[K", line)
				} else {
					fmt.Fprintln(w, line)
				}
				printed = true
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// fillRandom fills b with bytes from rng.
func fillRandom(rng *rand.Rand, b []byte) {
	var word [8]byte
	for len(b) > 0 {
		binary.LittleEndian.PutUint64(word[:], rng.Uint64())
		b = b[copy(b, word[:]):]
	}
}
