//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

const browserToken = "e2e-browser-admin-token"

// artifactsDir is where screenshots go: $STEGO_ARTIFACTS, or e2e/artifacts.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("STEGO_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// consoleErrors collects what the page reports as errors: console.error
// calls and uncaught exceptions. Browser log entries (a failed request's
// "Failed to load resource", which a 422 in the Reveal tab causes on
// purpose) are only logged.
type consoleErrors struct {
	mu   sync.Mutex
	list []string
}

func (c *consoleErrors) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// follow reads the console of ctx's tab until ctx ends; the returned
// channel closes then.
func (c *consoleErrors) follow(t *testing.T, ctx context.Context) <-chan struct{} {
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.IsException() || (m.Type == chromedp.ConsoleError && m.Source == ""):
				c.mu.Lock()
				c.list = append(c.list, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				c.mu.Unlock()
			case m.Source != "":
				t.Logf("browser log (%s): %s", m.Source, m)
			}
		}
	}()
	return done
}

// coverPNG writes a noisy photo-like PNG to use as the page's cover.
func coverPNG(t *testing.T, path string) {
	t.Helper()
	writeCover(t, path, func(w io.Writer, m image.Image) error { return png.Encode(w, m) })
}

// coverJPEG writes the same picture as a JPEG.
func coverJPEG(t *testing.T, path string) {
	t.Helper()
	writeCover(t, path, func(w io.Writer, m image.Image) error { return jpeg.Encode(w, m, &jpeg.Options{Quality: 90}) })
}

func writeCover(t *testing.T, path string, encode func(io.Writer, image.Image) error) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, 480, 320))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range 320 {
		for x := range 480 {
			n := rng.IntN(24)
			m.SetNRGBA(x, y, color.NRGBA{uint8(40 + x*180/480 + n), uint8(60 + y*160/320 + n), uint8(200 - (x+y)*150/800 + n), 255})
		}
	}
	var buf bytes.Buffer
	if err := encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits for path to exist with a stable size (a finished download).
func waitFile(t *testing.T, path string, timeout time.Duration) []byte {
	t.Helper()
	var last int64 = -1
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil {
			if fi.Size() == last && last > 0 {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			last = fi.Size()
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Fatalf("no download %s after %s (directory holds %v)", filepath.Base(path), timeout, names)
	return nil
}

// TestBrowserWebApp drives the web app in headless Chromium against a
// real three-node cluster behind nginx: hide a file and reveal it through
// the page (bytes compared), the wrong-password message, the cluster view
// with its leader, pause and restore and crash a follower from the page,
// a short load test, no console errors; screenshots of each tab (and a
// phone-width one) go to $STEGO_ARTIFACTS (default e2e/artifacts).
func TestBrowserWebApp(t *testing.T) {
	// No Chromium is a failure, not a skip: a green run must mean the
	// page was tested. Without it, leave this test out with -skip Browser.
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("Chromium is required for TestBrowserWebApp (Debian: apt-get install chromium; .ci/run does; or -skip Browser): %v", err)
	}
	base := testenv.FreePortRange(t, 11) // nginx, 3 nodes, 6 etcd ports, 1 worker
	c := newLocalCluster(t, base, base+1, base+4, browserToken)
	st := waitHealthy(t, c.nginx, 60*time.Second)
	art := artifactsDir(t)
	work := t.TempDir()
	downloads := filepath.Join(work, "downloads")
	if err := os.MkdirAll(downloads, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900), chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	// The first call starts the browser, which lives as long as bctx;
	// every later step is bounded by ctx.
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, 4*time.Minute)
	defer cancelTimeout()
	var errs consoleErrors
	consoleDone := errs.follow(t, ctx)
	defer func() { cancelTimeout(); <-consoleDone }()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			// What the page showed, for the artefacts.
			if buf, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
				_ = os.WriteFile(filepath.Join(art, "failed.png"), buf, 0o644)
			}
			t.Fatalf("%s: %v (the page as it was: %s)", what, err, filepath.Join(art, "failed.png"))
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	attr := func(sel, name string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			t.Fatalf("reading %s[%s]: %v", sel, name, err)
		}
		return v.Value
	}
	until := func(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))
	}
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	// wide lists the elements that stick out sideways, which would make
	// the page scroll horizontally.
	wide := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("body *")]
			.filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
			.slice(0, 5).map((e) => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`))
		if err != nil {
			t.Fatalf("measuring the layout: %v", err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		do("settle", chromedp.Sleep(300*time.Millisecond))
		if w := wide(); w != "" {
			t.Errorf("%s: elements stick out sideways: %s", name, w)
		}
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(art, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	do("open the page",
		chromedp.Navigate(c.nginx+"/"),
		chromedp.WaitVisible(chromedp.ID("panel-hide")),
		until(`document.getElementById("cap-figure").textContent.includes("fit")`, 10*time.Second),
	)

	// ── Hide a binary file in our own cover, with a password ──
	secret := make([]byte, 3000)
	for i := range secret {
		secret[i] = byte(rand.IntN(256))
	}
	secretPath := filepath.Join(work, "plans.bin")
	coverPath := filepath.Join(work, "holiday.png")
	if err := os.WriteFile(secretPath, secret, 0o644); err != nil {
		t.Fatal(err)
	}
	coverPNG(t, coverPath)
	do("hide",
		chromedp.SetUploadFiles(chromedp.ID("hide-file"), []string{secretPath}),
		chromedp.SetUploadFiles(chromedp.ID("hide-cover"), []string{coverPath}),
		chromedp.SendKeys(chromedp.ID("hide-password"), "correct horse battery"),
		// Wait for the answer about this secret in this cover: an earlier
		// one (the built-in cover's, whose stealth advice is longer) may
		// land first, and the layout it leaves moves the button under a
		// click.
		until(`(t => t.includes("plans.bin") && t.includes("your cover"))(document.getElementById("cap-fill").textContent)`, 10*time.Second),
		click("#hide-go"),
		chromedp.WaitVisible(chromedp.ID("hide-result")),
		until(`/clean|suspicious|caution/.test(document.getElementById("hide-verdict").className) && !document.getElementById("hide-verdict").textContent.includes("Analysing")`, 20*time.Second),
	)
	downloadName := attr("#hide-download", "download")
	if downloadName != "holiday.stego.png" {
		t.Errorf("download name %q, want holiday.stego.png", downloadName)
	}
	if caption := text("#cmp-diff-caption"); !strings.Contains(caption, "changed pixel") {
		t.Errorf("difference view caption: %q", caption)
	}
	// 3,000 bytes in 480×320 is 0.054 bits per channel: within the
	// stealthy figure the server gives (0.079, docs/stealth.md), said
	// before hiding and again in the result.
	if advice := text("#cap-advice"); !strings.HasPrefix(advice, "Stealthy") {
		t.Errorf("capacity advice for a stealthy payload: %q", advice)
	}
	if notes := text("#hide-notes"); !strings.Contains(notes, "Stealthy: 0.05") {
		t.Errorf("result notes do not rate the payload: %q", notes)
	}
	t.Logf("advice: %s", text("#cap-advice"))
	// The mode reaches /api/capacity: sequential has no stealthy payload.
	setMode := func(mode string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const m = document.getElementById("hide-mode"); m.value = %q; m.dispatchEvent(new Event("change")); })()`, mode))
	}
	keyedAdvice := text("#cap-advice")
	do("the modes' advice",
		setMode("sequential"),
		until(`document.getElementById("cap-advice").textContent.includes("sequential mode")`, 10*time.Second),
		chromedp.SetValue(chromedp.ID("hide-depth"), "4"),
		// Adaptive mode stays stealthy up to twice the payload: another
		// figure. It embeds at depth 1 only: the form goes back to 1
		// rather than ask for what the server refuses.
		setMode("adaptive"),
		until(`document.getElementById("hide-depth").value === "1" && document.querySelector('#hide-depth option[value="4"]').disabled`, time.Second),
		until(fmt.Sprintf(`(t => t.startsWith("Stealthy") && t.trim() !== %q)(document.getElementById("cap-advice").textContent)`, keyedAdvice), 10*time.Second),
	)
	t.Logf("advice, keyed: %s; adaptive: %s", keyedAdvice, text("#cap-advice"))
	do("back to keyed",
		setMode("keyed"),
		until(`!document.querySelector('#hide-depth option[value="4"]').disabled`, time.Second),
		until(fmt.Sprintf(`document.getElementById("cap-advice").textContent.trim() === %q`, keyedAdvice), 10*time.Second),
	)
	// The analysis after hiding runs the rich model too, and says how
	// often it flags clean photos.
	if verdict := text("#hide-verdict"); !strings.Contains(verdict, "Rich model") || !strings.Contains(verdict, "% of clean photos") {
		t.Errorf("verdict does not report the rich model: %q", verdict)
	}
	t.Logf("verdict: %s", text("#hide-verdict"))
	t.Logf("stats: %s", text("#hide-stats"))
	shot("1-hide")

	// The stego image, read from the download link's blob.
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const blob = await (await fetch(document.getElementById("hide-download").href)).blob();
		const bytes = new Uint8Array(await blob.arrayBuffer());
		let s = "";
		for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
		return btoa(s);
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("reading the stego blob: %v", err)
	}
	stego, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.HasPrefix(stego, []byte("\x89PNG")) {
		t.Fatalf("the download link does not hold a PNG (%d bytes, %v)", len(stego), err)
	}
	stegoPath := filepath.Join(work, downloadName)
	if err := os.WriteFile(stegoPath, stego, 0o644); err != nil {
		t.Fatal(err)
	}

	// ── Reveal: first with a wrong password, then the right one ──
	do("reveal with a wrong password",
		click("#tab-reveal"),
		chromedp.WaitVisible(chromedp.ID("panel-reveal")),
		chromedp.SetUploadFiles(chromedp.ID("reveal-file"), []string{stegoPath}),
		chromedp.SendKeys(chromedp.ID("reveal-password"), "wrong"),
		click("#reveal-go"),
		until(`document.getElementById("reveal-status").className.includes("error")`, 20*time.Second),
	)
	if wrong := text("#reveal-status"); !strings.Contains(strings.ToLower(wrong), "wrong password or nothing hidden") {
		t.Errorf("wrong password message: %q", wrong)
	}
	do("reveal",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("reveal-password").value = ""`),
		chromedp.SendKeys(chromedp.ID("reveal-password"), "correct horse battery"),
		click("#reveal-go"),
		chromedp.WaitVisible(chromedp.ID("reveal-result")),
		click("#reveal-download"),
	)
	got := waitFile(t, filepath.Join(downloads, "plans.bin"), 15*time.Second)
	if !bytes.Equal(got, secret) {
		t.Fatalf("revealed %d bytes through the page, not the %d hidden", len(got), len(secret))
	}
	if notes := text("#reveal-notes"); notes != "" {
		t.Errorf("notes for an image of the current format: %q", notes)
	}
	shot("2-reveal")
	// An image from before format version 3, revealed with its password,
	// comes with the advice to hide it again.
	do("reveal an image of format version 2",
		chromedp.SetUploadFiles(chromedp.ID("reveal-file"), []string{filepath.Join(testenv.RepoRoot(t), "stego", "testdata", "golden-v2-keyed-password.png")}),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("reveal-password").value = ""`),
		chromedp.SendKeys(chromedp.ID("reveal-password"), "golden password v2"),
		click("#reveal-go"),
		until(`document.getElementById("reveal-notes").textContent.includes("hide the secret again")`, 20*time.Second),
	)

	// ── Analyze: the stego image just revealed, beside its original ──
	do("analyze",
		click("#tab-analyze"),
		chromedp.WaitVisible(chromedp.ID("panel-analyze")),
		chromedp.SetUploadFiles(chromedp.ID("analyze-file"), []string{stegoPath}),
		chromedp.SetUploadFiles(chromedp.ID("analyze-cover"), []string{coverPath}),
		click("#analyze-go"),
		chromedp.WaitVisible(chromedp.ID("analyze-result")),
	)
	if stats := text("#analyze-stats"); !strings.Contains(stats, "480×320") || !strings.Contains(stats, "PSNR") {
		t.Errorf("analysis facts: %q", stats)
	}
	if verdict := text("#analyze-verdict"); !strings.Contains(verdict, "Rich model") {
		t.Errorf("analysis verdict: %q", verdict)
	}
	t.Logf("Analyze tab: %s; %s", text("#analyze-stats"), text("#analyze-verdict"))
	shot("2b-analyze")

	// ── Hide again: a failed hide leaves no earlier result on show, and a
	// JPEG cover gets no difference picture (the browser's decoding of a
	// JPEG is not the server's: nearly every pixel would look changed) ──
	notImage := filepath.Join(work, "notes.png")
	if err := os.WriteFile(notImage, []byte("a text file, not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	jpegPath := filepath.Join(work, "holiday.jpg")
	coverJPEG(t, jpegPath)
	do("a hide that fails",
		click("#tab-hide"),
		chromedp.WaitVisible(chromedp.ID("panel-hide")),
		chromedp.SetUploadFiles(chromedp.ID("hide-cover"), []string{notImage}),
		click("#hide-go"),
		until(`document.getElementById("hide-status").className.includes("error")`, 20*time.Second),
	)
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("hide-result").hidden`)); err != nil || shown {
		t.Errorf("after a failed hide the earlier result is still shown (%v)", err)
	}
	do("hide in a JPEG",
		chromedp.SetUploadFiles(chromedp.ID("hide-cover"), []string{jpegPath}),
		until(`document.getElementById("cap-advice").textContent.includes("JPEG")`, 10*time.Second),
		click("#hide-go"),
		chromedp.WaitVisible(chromedp.ID("hide-result")),
		until(`/clean|suspicious|caution/.test(document.getElementById("hide-verdict").className) && !document.getElementById("hide-verdict").textContent.includes("Analysing")`, 30*time.Second),
	)
	if caption := text("#cmp-diff-caption"); !strings.Contains(caption, "No difference picture for a JPEG or WebP cover") {
		t.Errorf("difference caption for a JPEG cover: %q", caption)
	}
	// No green "clean" for what the advice calls detectable.
	if class := attr("#hide-verdict", "class"); strings.Contains(class, "clean") {
		t.Errorf("a JPEG cover's result is headed clean (%s): %q", class, text("#hide-verdict"))
	}
	t.Logf("JPEG cover's verdict: %s", text("#hide-verdict"))
	// The built-in cover is public: whatever the detectors say of one
	// image, no payload in it is stealthy, and the verdict must not be
	// headed "clean" (it was, in green, above a "Detectable" note).
	do("hide in the built-in cover",
		click("#hide-cover-clear"),
		until(`document.getElementById("cap-advice").textContent.includes("public")`, 10*time.Second),
		click("#hide-go"),
		chromedp.WaitVisible(chromedp.ID("hide-result")),
		until(`/clean|suspicious|caution/.test(document.getElementById("hide-verdict").className) && !document.getElementById("hide-verdict").textContent.includes("Analysing")`, 30*time.Second),
	)
	if class := attr("#hide-verdict", "class"); strings.Contains(class, "clean") {
		t.Errorf("a result in the public built-in cover is headed clean (%s): %q", class, text("#hide-verdict"))
	}
	t.Logf("built-in cover's verdict: %s", text("#hide-verdict"))

	// ── Cluster: the leader, then pause/restore and crash followers ──
	do("cluster view",
		click("#tab-cluster"),
		chromedp.WaitVisible(chromedp.CSS(`#nodes [data-role="leader"]`)),
		until(`document.querySelectorAll('#nodes [data-health="healthy"]').length === 3`, 10*time.Second),
	)
	shownLeader := attr(`#nodes [data-role="leader"]`, "data-node")
	if now, err := getStatus(c.nginx); err != nil || shownLeader != now.LeaderID {
		t.Fatalf("the page shows %s leading; the cluster says %+v (%v)", shownLeader, now, err)
	}
	shot("3-cluster")

	// A stateless worker joins: the page shows it beside the members, as
	// a Worker, with the same card.
	if out, err := c.script("add-worker"); err != nil {
		t.Fatalf("cluster.sh add-worker: %v\n%s", err, out)
	}
	do("a worker joins",
		until(`(document.querySelector('#nodes [data-role="worker"]') || {}).dataset?.health === "healthy"`, 15*time.Second),
		until(`[...document.querySelectorAll('#nodes [data-role="worker"] .badge')].some(b => b.textContent === "Worker")`, time.Second),
	)
	shot("3b-worker")

	button := func(id, action string) string {
		return fmt.Sprintf(`#nodes button[data-node=%q][data-action=%q]`, id, action)
	}
	health := func(id, h string) chromedp.Action[chromedp.Void] {
		return until(fmt.Sprintf(`document.querySelector('#nodes [data-node=%q]').dataset.health === %q`, id, h), 10*time.Second)
	}
	var follower string
	for _, n := range st.Nodes {
		if n.ID != shownLeader {
			follower = n.ID
		}
	}
	do("pause a follower (the token is asked for once)",
		click(button(follower, "pause")),
		chromedp.WaitVisible(chromedp.ID("token-dialog")),
		chromedp.SendKeys(chromedp.ID("admin-token"), browserToken),
		click("#token-ok"),
		health(follower, "paused"),
	)
	do("restore it", click(button(follower, "restore")), health(follower, "healthy"))

	// Pausing the leader makes it resign: the timeline records the failover.
	do("pause the leader",
		click(button(shownLeader, "pause")),
		// Timed from the click (exact), not bounded by the last status seen (≤).
		until(`/^\d+ ms$/.test(document.querySelector("#timeline li.t-failover .took")?.textContent ?? "")`, 15*time.Second),
		until(`document.querySelector('#nodes [data-role="leader"]') !== null`, 10*time.Second),
	)
	newLeader := attr(`#nodes [data-role="leader"]`, "data-node")
	t.Logf("paused leader %s from the page; %s took over; timeline: %s", shownLeader, newLeader, text("#timeline li.t-failover"))
	if newLeader == shownLeader {
		t.Fatalf("%s still leads after being paused", shownLeader)
	}
	// One pause is one line, whichever came first: the page's request or
	// a status showing the leader paused. Later statuses must not add a
	// second ("… is paused") once another node leads.
	do("later statuses", chromedp.Sleep(1500*time.Millisecond))
	paused, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(
		`[...document.querySelectorAll("#timeline li")].map(li => li.textContent).filter(s => s.includes(%q) && s.includes("paused"))`,
		shownLeader+" ")))
	if err != nil {
		t.Fatalf("reading the timeline: %v", err)
	}
	if len(paused) != 1 {
		t.Errorf("the timeline has %d lines for one pause of %s: %q", len(paused), shownLeader, paused)
	}
	// Which status comes first, and whether the page's request is answered
	// before or after it, is the cluster's timing; the page's own module,
	// fed each order, must tell one story either way. Steps are statuses
	// [leader, epoch, paused node] or the page's requests ["pause", node],
	// 100 ms apart.
	for _, tc := range []struct {
		name  string
		steps string
		want  []string
	}{
		{"paused leader seen before it resigns", `[["a",1,""],["a",1,"a"],["b",2,"a"],["b",2,"a"]]`,
			[]string{"a leads (epoch 1)", "a (leader) is paused", "b leads (epoch 2), after a"}},
		{"resigned before any status showed it paused", `[["a",1,""],["b",2,"a"],["b",2,"a"]]`,
			[]string{"a leads (epoch 1)", "b leads (epoch 2), after a"}},
		{"paused from the page, its entry lagging the new leader's state", `[["a",1,""],["pause","a"],["b",2,""],["b",2,"a"],["b",2,"a"]]`,
			[]string{"a leads (epoch 1)", "a (leader) paused from this page", "b leads (epoch 2), after a"}},
		{"paused from the page after the new leader showed", `[["a",1,""],["b",2,""],["pause","a"],["b",2,"a"]]`,
			[]string{"a leads (epoch 1)", "b leads (epoch 2), after a", "a is paused"}},
		{"no leader for a moment, then the same one", `[["a",1,""],["",1,""],["a",1,""],["a",1,""]]`,
			[]string{"a leads (epoch 1)", "a (leader) no longer leads", "a is back and still leads"}},
	} {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`(async () => {
			const { Timeline } = await import("/web/js/timeline.js");
			const tl = new Timeline();
			%s.forEach((step, i) => {
				if (step[0] === "pause") return tl.requested(step[1], "pause", i * 100);
				const [leader, epoch, paused] = step;
				tl.observe({
					leader_id: leader, epoch, probes: {},
					nodes: ["a", "b"].map((id) => ({ id, healthy: true, paused: id === paused })),
				}, i * 100);
			});
			return tl.entries.map((e) => e.text);
		})()`, tc.steps), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("timeline module, %s: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("timeline, %s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	do("restore the old leader", click(button(shownLeader, "restore")), health(shownLeader, "healthy"))

	// Crash a follower of the new leader: shown down within a second or so.
	start := time.Now()
	do("crash a follower", click(button(shownLeader, "crash")), health(shownLeader, "down"))
	took := time.Since(start)
	t.Logf("crashed %s from the page: shown down %s after the click (%s)", shownLeader, took,
		text(fmt.Sprintf(`#nodes [data-node=%q] .node-why`, shownLeader)))
	if took > 2*time.Second {
		t.Errorf("a crashed node took %s to show as down", took)
	}
	shot("4-cluster-failover-and-crash")
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatalf("dark mode: %v", err)
	}
	shot("5-cluster-dark")
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatalf("light mode: %v", err)
	}

	// ── Load test: start, then stop promptly ──
	do("load test",
		click("#tab-load"),
		chromedp.WaitVisible(chromedp.ID("panel-load")),
		chromedp.SetValue(chromedp.ID("load-clients"), "3"),
		chromedp.SetValue(chromedp.ID("load-amount"), "30"),
		chromedp.SetValue(chromedp.ID("load-op"), "mixed"),
		click("#load-start"),
		until(`Number(document.getElementById("l-ok").textContent.replace(/\D/g, "")) >= 10`, 30*time.Second),
		chromedp.Sleep(1500*time.Millisecond),
	)
	shot("6-load-test")
	start = time.Now()
	do("stop the load test", click("#load-stop"), until(`!document.getElementById("load-start").disabled`, 5*time.Second))
	if took := time.Since(start); took > time.Second {
		t.Errorf("stopping the load test took %s", took)
	}
	loadStatus := text("#load-status")
	t.Logf("load test: %s", loadStatus)
	if !strings.HasPrefix(loadStatus, "Stopped.") {
		t.Errorf("load status after Stop: %q", loadStatus)
	}

	// ── Phone width ──
	do("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), click("#tab-hide"))
	shot("7-phone-hide")
	do("phone cluster", click("#tab-cluster"))
	shot("8-phone-cluster")

	if list := errs.all(); len(list) > 0 {
		t.Errorf("the page logged %d console errors:\n%s", len(list), strings.Join(list, "\n"))
	}
	t.Logf("screenshots in %s", art)
}
