//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/stego"
	"github.com/stegocluster/stegocluster/wire"
)

// The attack suite: hostile clients against one real stegod process
// with the default memory settings (docs/security.md, "The attack
// suite"). Each attack is bounded in count and time; while it runs the
// node's resident memory is sampled every 50 ms and an ordinary client
// hides a 4 KB secret. After each: the peak RSS is within the memory
// budget plus the runtime's and etcd's share, the node still leads with
// the same epoch, the ordinary hide succeeded within a second, and the
// process is alive.

const (
	attackBudgetMB = 512 // MEMORY_BUDGET_MB, the default
	attackLimitMB  = 768 // MEMORY_LIMIT_MB, the default
	// attackRSSMargin is what the Go runtime, the embedded etcd member,
	// goroutine stacks and garbage not yet collected may add to the
	// budget: the node's target is 1 GiB (issue 11). MEMORY_LIMIT_MB is a
	// soft limit the collector works toward, not a ceiling: with the
	// budget in use, RSS was seen at 663-792 MiB.
	attackRSSMargin = 512 << 20
	attackRSSBound  = attackBudgetMB<<20 + attackRSSMargin
	// normalHideWithin is how long the ordinary client's hide may take,
	// retries after 503 included.
	normalHideWithin = time.Second
	attackMaxUpload  = 50 << 20 // MAX_UPLOAD_MB, the default
)

// attackNode is a stegod process started by the test.
type attackNode struct {
	t      *testing.T
	base   string
	pid    int
	token  string
	log    string
	exited chan struct{}
}

// buildStegod builds cmd/stegod into a temporary directory.
func buildStegod(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stegod")
	build := exec.Command("go", "build", "-o", bin, "./cmd/stegod")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/stegod: %v\n%s", err, out)
	}
	return bin
}

// startAttackNode runs bin alone, on free loopback ports, with a data
// directory of its own, and waits until it is ready and leads. Cleanup
// kills it.
func startAttackNode(t *testing.T, bin string) *attackNode {
	t.Helper()
	dir := t.TempDir()
	ports := testenv.FreePorts(t, 3)
	n := &attackNode{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		token: "attack-suite-" + strconv.FormatUint(rand.Uint64(), 16), log: filepath.Join(dir, "stegod.log"),
		exited: make(chan struct{})}
	logFile, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"NODE_ID=attack1",
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", ports[0]),
		fmt.Sprintf("PEER_URL=http://127.0.0.1:%d", ports[1]),
		fmt.Sprintf("CLIENT_URL=http://127.0.0.1:%d", ports[2]),
		"ADVERTISE_IP=127.0.0.1",
		"DATA_DIR="+filepath.Join(dir, "data"),
		"ADMIN_TOKEN="+n.token,
		fmt.Sprintf("MEMORY_BUDGET_MB=%d", attackBudgetMB),
		fmt.Sprintf("MEMORY_LIMIT_MB=%d", attackLimitMB),
		"LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting stegod: %v", err)
	}
	n.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(n.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(n.log); err == nil {
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("stegod log (last lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
		_ = cmd.Process.Kill()
		<-n.exited
	})
	testenv.WaitFor(t, 60*time.Second, "stegod /readyz", func() bool {
		return n.alive() && n.get("/readyz") == http.StatusOK
	})
	testenv.WaitFor(t, 30*time.Second, "a published /cluster/status with this node leading", func() bool {
		st, err := getStatus(n.base)
		return err == nil && st.LeaderID == "attack1" && st.Epoch > 0
	})
	return n
}

func (n *attackNode) alive() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// get answers the status of GET path, or 0 if the request failed.
func (n *attackNode) get(path string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(n.base + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rss is the process's resident set size in bytes (VmRSS), or 0.
func (n *attackNode) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// sampleRSS samples the node's RSS every 50 ms until stop is called,
// which returns the largest sample.
func (n *attackNode) sampleRSS() (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if r := n.rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		if r := n.rss(); r > peak.Load() {
			peak.Store(r)
		}
		return peak.Load()
	}
}

// stalled counts connections the node has not answered (yet).
const stalled = -1

// codes counts answers by status; 0 is a transport error.
type codes struct {
	mu sync.Mutex
	m  map[int]int
}

func (c *codes) add(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int]int{}
	}
	c.m[code]++
}

func (c *codes) get(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[code]
}

func (c *codes) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}

func (c *codes) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]int, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := strconv.Itoa(k)
		switch k {
		case 0:
			name = "transport error"
		case stalled:
			name = "unanswered"
		case 1:
			name = "answered"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", name, c.m[k]))
	}
	return strings.Join(parts, ", ")
}

// multipartBody is a form with one file part and optional fields.
func multipartBody(field, filename string, data []byte, fields map[string]string) (*bytes.Buffer, string) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, _ := w.CreateFormFile(field, filename)
	fw.Write(data)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	w.Close()
	return &body, w.FormDataContentType()
}

// postForm POSTs a one-file form and returns the status and the body's
// length (read and discarded), or status 0 on a transport error.
func postForm(client *http.Client, url, field, filename string, data []byte) (int, int64, error) {
	body, ctype := multipartBody(field, filename, data, nil)
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, n, err
	}
	return resp.StatusCode, n, nil
}

// normalHide is an ordinary client's request during an attack: hide a
// 4 KB secret in the built-in cover. A 503 (budget or queue full) is
// retried until normalHideWithin has passed. It returns how long it
// took and the final status.
func (n *attackNode) normalHide() (time.Duration, int, error) {
	secret := testenv.RandomBytes(4<<10, 11)
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	for {
		status, size, err := postForm(client, n.base+"/api/embed?format=png", "file", "note.bin", secret)
		took := time.Since(start)
		if err != nil {
			return took, 0, err
		}
		if status == http.StatusServiceUnavailable && took < normalHideWithin {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if status == http.StatusOK && size < 1000 {
			return took, status, fmt.Errorf("a %d-byte PNG", size)
		}
		return took, status, nil
	}
}

// attackResult is one row of the suite's table.
type attackResult struct {
	name     string
	baseline int64 // RSS just before the attack
	peak     int64
	codes    *codes
	hide     time.Duration
	hideCode int
	note     string
}

func mib(b int64) string { return fmt.Sprintf("%d", b>>20) }

func (r attackResult) row() string {
	return fmt.Sprintf("| %s | %s | %s | %s | %d ms (%d) | %s |", r.name, mib(r.baseline), mib(r.peak), r.codes, r.hide.Milliseconds(), r.hideCode, r.note)
}

// attack is one hostile client. run drives it; it calls during() once
// the attack is at full strength (the ordinary hide runs then, on the
// calling goroutine, while the attack's own goroutines keep going),
// counts every answer in c, checks what is specific to it, and returns
// a note for the table.
type attack struct {
	name string
	run  func(t *testing.T, n *attackNode, c *codes, during func()) string
}

// TestAttackSuite runs each attack against a node of its own, so that
// what one attack leaves in the heap (the Go runtime returns freed
// memory to the system only gradually) is not counted against the next.
func TestAttackSuite(t *testing.T) {
	bin := buildStegod(t)
	inputs := buildAttackInputs(t)
	var rows []string
	for _, a := range attacks(inputs) {
		t.Run(a.name, func(t *testing.T) {
			n := startAttackNode(t, bin)
			rows = append(rows, n.runAttack(t, a).row())
		})
	}
	t.Logf("attack suite (docs/security.md):\n| attack | RSS before (MiB) | max RSS (MiB) | answers | ordinary hide during it (status) | note |\n| --- | --- | --- | --- | --- | --- |\n%s",
		strings.Join(rows, "\n"))
}

// runAttack runs one attack with RSS sampling and the ordinary hide,
// then checks the invariants every attack must keep.
func (n *attackNode) runAttack(t *testing.T, a attack) attackResult {
	before, err := getStatus(n.base)
	if err != nil {
		t.Fatalf("status before the attack: %v", err)
	}
	res := attackResult{name: a.name, codes: &codes{}, baseline: n.rss()}
	stop := n.sampleRSS()
	var hideErr error
	hideRan := false
	res.note = a.run(t, n, res.codes, func() {
		hideRan = true
		res.hide, res.hideCode, hideErr = n.normalHide()
	})
	res.peak = stop()
	t.Logf("%s", res.row())

	// (a) memory
	if res.peak > attackRSSBound {
		t.Errorf("max RSS %d MiB during the attack, over the bound of %d MiB (budget %d MiB + margin %d MiB)",
			res.peak>>20, attackRSSBound>>20, attackBudgetMB, attackRSSMargin>>20)
	}
	// (c) an ordinary client was served during the attack
	switch {
	case !hideRan:
		t.Error("the attack never ran the ordinary hide")
	case hideErr != nil:
		t.Errorf("ordinary hide during the attack: %v after %s", hideErr, res.hide)
	case res.hideCode != http.StatusOK:
		t.Errorf("ordinary hide during the attack: status %d after %s", res.hideCode, res.hide)
	case res.hide > normalHideWithin:
		t.Errorf("ordinary hide during the attack took %s, more than %s", res.hide, normalHideWithin)
	}
	// no 5xx but 503
	res.codes.mu.Lock()
	for code, count := range res.codes.m {
		if code >= 500 && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d", count, code)
		}
	}
	res.codes.mu.Unlock()
	// (d) the process lives and serves
	if !n.alive() {
		t.Fatal("stegod exited during the attack")
	}
	if code := n.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after the attack: %d", code)
	}
	// (b) no leadership change
	after, err := getStatus(n.base)
	if err != nil {
		t.Fatalf("status after the attack: %v", err)
	}
	if after.LeaderID != before.LeaderID || after.Epoch != before.Epoch {
		t.Errorf("leadership changed: leader %s epoch %d before, leader %s epoch %d after",
			before.LeaderID, before.Epoch, after.LeaderID, after.Epoch)
	}
	if nd := after.Node("attack1"); nd == nil || nd.Role != wire.RoleLeader {
		t.Errorf("attack1 is not leading after the attack: %+v", after.Nodes)
	}
	return res
}

// attackInputs are the hostile files, made once.
type attackInputs struct {
	bombOver   []byte // 60 MB of zeros hidden: over MAX_UPLOAD_MB
	bombWithin []byte // 40 MB of zeros hidden
	bigPixels  []byte // a 7071×7071 one-colour PNG: 50 megapixels
}

// bombImage hides size zero bytes, compressed by the embedder, in a
// noise cover without a password, as anyone could.
func bombImage(t *testing.T, size int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(size), 3))
	m := image.NewNRGBA(image.Rect(0, 0, 600, 400))
	for i := range m.Pix {
		if i%4 == 3 {
			m.Pix[i] = 255
		} else {
			m.Pix[i] = byte(rng.Uint32())
		}
	}
	cover, err := stego.FromImage(m)
	if err != nil {
		t.Fatal(err)
	}
	out, stats, err := stego.Embed(context.Background(), cover, stego.Secret{Name: "zeros.bin", Data: make([]byte, size)}, stego.Options{})
	if err != nil {
		t.Fatalf("embedding %d zero bytes: %v", size, err)
	}
	if !stats.Compressed {
		t.Fatalf("%d zero bytes were not compressed: %+v", size, stats)
	}
	var buf bytes.Buffer
	if err := out.Encode(&buf, stego.PNG); err != nil {
		t.Fatal(err)
	}
	t.Logf("bomb: %d MB of zeros hidden as %d payload bytes in a %d-byte PNG", size>>20, stats.PayloadBytes, buf.Len())
	return buf.Bytes()
}

func buildAttackInputs(t *testing.T) attackInputs {
	t.Helper()
	var in attackInputs
	in.bombOver = bombImage(t, 60<<20)
	in.bombWithin = bombImage(t, 40<<20)

	// One colour, so the palette has one entry and the PNG is 1 bit per
	// pixel, deflated ~1000:1.
	const side = 7071 // 49,999,041 pixels: just under MAX_PIXELS
	m := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.NRGBA{40, 90, 160, 255}})
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 1<<20 {
		t.Fatalf("the 50-megapixel PNG is %d bytes, want a small file", buf.Len())
	}
	t.Logf("pixel bomb: %d×%d paletted PNG in %d bytes", side, side, buf.Len())
	in.bigPixels = buf.Bytes()
	return in
}

// concurrently runs f(i) for i in [0, count) on count goroutines, calls
// during() after lead, and waits for them all.
func concurrently(count int, lead time.Duration, during func(), f func(i int)) {
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	time.Sleep(lead)
	during()
	wg.Wait()
}

func attacks(in attackInputs) []attack {
	return []attack{
		{"1a-bomb-over-limit", func(t *testing.T, n *attackNode, c *codes, during func()) string {
			client := &http.Client{Timeout: 60 * time.Second}
			concurrently(10, 100*time.Millisecond, during, func(i int) {
				status, _, err := postForm(client, n.base+"/api/extract?format=raw", "file", "bomb.png", in.bombOver)
				if err != nil {
					t.Logf("extract: %v", err)
				}
				c.add(status)
			})
			if got := c.get(http.StatusRequestEntityTooLarge) + c.get(http.StatusServiceUnavailable); got != 10 || c.get(http.StatusRequestEntityTooLarge) == 0 {
				t.Errorf("10 extracts of a 60 MB bomb: %s; want 413 (or 503 while the budget is full), never a secret", c)
			}
			return "10 concurrent extracts, 60 MB of zeros hidden (limit 50 MB)"
		}},
		{"1b-bomb-within-limit", func(t *testing.T, n *attackNode, c *codes, during func()) string {
			client := &http.Client{Timeout: 60 * time.Second}
			var badSize atomic.Int64
			concurrently(10, 100*time.Millisecond, during, func(i int) {
				url := n.base + "/api/extract"
				if i%2 == 0 {
					url += "?format=raw" // the other half as JSON with base64
				}
				status, size, err := postForm(client, url, "file", "bomb.png", in.bombWithin)
				if err != nil {
					t.Logf("extract: %v", err)
				}
				c.add(status)
				if status == http.StatusOK && size < 40<<20 {
					badSize.Add(1)
				}
			})
			if c.get(http.StatusOK)+c.get(http.StatusServiceUnavailable) != 10 || c.get(http.StatusOK) == 0 {
				t.Errorf("10 extracts of a 40 MB bomb: %s; want 200 (or 503 while the budget is full)", c)
			}
			if badSize.Load() > 0 {
				t.Errorf("%d answers shorter than the 40 MB secret", badSize.Load())
			}
			return "10 concurrent extracts, 40 MB of zeros hidden, half raw, half JSON"
		}},
		{"2-stalled-uploads", func(t *testing.T, n *attackNode, c *codes, during func()) string {
			addr := strings.TrimPrefix(n.base, "http://")
			base := n.rss()
			var conns []net.Conn
			defer func() {
				for _, conn := range conns {
					conn.Close()
				}
			}()
			boundary := "attackboundary"
			preamble := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
			for range 100 {
				conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					c.add(0)
					continue
				}
				conns = append(conns, conn)
				fmt.Fprintf(conn, "POST /api/embed HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n%s%s",
					addr, boundary, 50<<20, preamble, strings.Repeat("x", 1024))
			}
			time.Sleep(500 * time.Millisecond)
			during()
			time.Sleep(2 * time.Second)
			peak := n.rss()
			// None may have been answered or dropped yet: the node waits
			// for the body (up to its 10 s idle timeout). Only a read that
			// times out is a connection still held; an answer or a close
			// would make the memory check below prove nothing.
			answered := 0
			for _, conn := range conns {
				conn.SetReadDeadline(time.Now().Add(time.Millisecond))
				var ne net.Error
				if _, err := bufio.NewReader(conn).Peek(1); !errors.As(err, &ne) || !ne.Timeout() {
					answered++
				}
			}
			if answered > 0 {
				t.Errorf("%d of %d stalled uploads were answered or closed within 2.5 s", answered, len(conns))
			}
			c.mu.Lock()
			c.m = map[int]int{stalled: len(conns) - answered}
			if answered > 0 {
				c.m[1] = answered // answered or closed
			}
			c.mu.Unlock()
			if len(conns) != 100 {
				t.Errorf("only %d of 100 connections opened", len(conns))
			}
			growth := peak - base
			// Each stalled upload holds one 256 KiB read step: 25 MiB.
			if growth > 64<<20 {
				t.Errorf("RSS grew by %d MiB with 100 stalled 50 MB uploads", growth>>20)
			}
			return fmt.Sprintf("100 connections declaring 50 MB, 1 KB sent, held 2.5 s; RSS +%d MiB", growth>>20)
		}},
		{"3-event-streams", func(t *testing.T, n *attackNode, c *codes, during func()) string {
			tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var opened sync.WaitGroup
			for range 500 {
				wg.Add(1)
				opened.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequestWithContext(ctx, "GET", n.base+"/cluster/events", nil)
					resp, err := client.Do(req)
					opened.Done()
					if err != nil {
						c.add(0)
						return
					}
					defer resp.Body.Close()
					c.add(resp.StatusCode)
					if resp.StatusCode == http.StatusOK {
						io.Copy(io.Discard, resp.Body) // until cancelled
					}
				}()
			}
			opened.Wait()
			during()
			time.Sleep(time.Second)
			cancel()
			wg.Wait()
			if c.get(http.StatusOK) != 100 || c.get(http.StatusServiceUnavailable) != 400 {
				t.Errorf("500 event streams: %s; want 100 × 200 (MAX_EVENT_STREAMS) and 400 × 503", c)
			}
			// The slots are given back once the streams close.
			testenv.WaitFor(t, 5*time.Second, "a new event stream accepted", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", n.base+"/cluster/events", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
			return "500 concurrent GET /cluster/events, held 1 s"
		}},
		{"4-pixel-bombs", func(t *testing.T, n *attackNode, c *codes, during func()) string {
			client := &http.Client{Timeout: 60 * time.Second}
			concurrently(10, 100*time.Millisecond, during, func(i int) {
				status, _, err := postForm(client, n.base+"/api/capacity", "cover", "big.png", in.bigPixels)
				if err != nil {
					t.Logf("capacity: %v", err)
				}
				c.add(status)
			})
			if got := c.get(http.StatusOK) + c.get(http.StatusRequestEntityTooLarge) + c.get(http.StatusServiceUnavailable); got != 10 {
				t.Errorf("10 × 50 MP to /api/capacity: %s; want each 200, 413 or 503", c)
			}
			return fmt.Sprintf("10 concurrent /api/capacity, a %d-byte PNG of 7071×7071 each", len(in.bigPixels))
		}},
		{"5-wrong-admin-tokens", func(t *testing.T, n *attackNode, c *codes, during func()) string {
			client := &http.Client{Timeout: 10 * time.Second}
			start := time.Now()
			var next atomic.Int64
			concurrently(4, 0, func() {
				for next.Load() < 500 {
					time.Sleep(5 * time.Millisecond)
				}
				during()
			}, func(int) {
				for next.Add(1) <= 1000 {
					req, _ := http.NewRequest("POST", n.base+"/admin/restore", nil)
					req.Header.Set("Authorization", "Bearer wrong-token-of-enough-length")
					resp, err := client.Do(req)
					if err != nil {
						c.add(0)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					c.add(resp.StatusCode)
				}
			})
			took := time.Since(start)
			allowed := 5 + int(took/(10*time.Second)) + 1
			if u := c.get(http.StatusUnauthorized); u == 0 || u > allowed || u+c.get(http.StatusTooManyRequests) != 1000 {
				t.Errorf("1000 wrong tokens in %s: %s; want at most %d × 401, the rest 429", took, c, allowed)
			}
			// No effect: the node is not paused (it would answer 503).
			if code := n.get("/healthz"); code != http.StatusOK {
				t.Errorf("/healthz after the wrong tokens: %d", code)
			}
			return fmt.Sprintf("1000 POST /admin/restore, 4 clients, %s", took.Round(10*time.Millisecond))
		}},
	}
}
