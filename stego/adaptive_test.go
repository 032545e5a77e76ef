package stego

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/stego/internal/adaptivetune"
)

func TestParseModeAdaptive(t *testing.T) {
	m, err := ParseMode("adaptive")
	if err != nil || m != ModeAdaptive || m.String() != "adaptive" {
		t.Fatalf("ParseMode(adaptive) = %v, %v", m, err)
	}
}

// TestAdaptiveRoundTrip: on a real photograph, from nothing to exactly
// the capacity (every sample layout is in TestRoundTrip).
func TestAdaptiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	photo, err := FromImage(photoCrop(t, 96, 80))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("photo", func(t *testing.T) {
		room, _ := Capacity(photo, Options{Mode: ModeAdaptive})
		for _, size := range []int{0, 1, 100, room} {
			secret := Secret{Data: testenv.RandomBytes(size, 2)}
			out, _, err := Embed(ctx, photo, secret, Options{Mode: ModeAdaptive, Password: "p"})
			if err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			got, err := Extract(ctx, out, Options{Password: "p"})
			if err != nil || !bytes.Equal(got.Data, secret.Data) {
				t.Fatalf("%d bytes: extract: %v", size, err)
			}
			assertAlphaAndRangeKept(t, photo.r, out.r, 1)
		}
	})
}

func TestAdaptiveWrongPassword(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(64, 64, 3, false, false, 9)}
	out, _, err := Embed(ctx, cover, Secret{Data: []byte("the secret")}, Options{Password: "right", Mode: ModeAdaptive})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"wrong", ""} {
		if _, err := Extract(ctx, out, Options{Password: pw}); err != ErrNoHiddenData {
			t.Fatalf("password %q: err = %v, want ErrNoHiddenData", pw, err)
		}
	}
	got, err := Extract(ctx, out, Options{Password: "right", Mode: ModeKeyed}) // Extract ignores Mode
	if err != nil || string(got.Data) != "the secret" {
		t.Fatalf("right password: %v", err)
	}
}

func TestAdaptiveRefusesDepth(t *testing.T) {
	cover := &Image{r: noiseRaster(64, 64, 3, false, false, 9)}
	for _, d := range []int{2, 3, 4} {
		if _, err := Capacity(cover, Options{Mode: ModeAdaptive, Depth: d}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("depth %d: %v, want ErrInvalidOptions", d, err)
		}
	}
}

// TestAdaptiveModificationDetected flips each sample's LSB of a small
// adaptive image: extraction gives the secret or an error, never other
// data.
func TestAdaptiveModificationDetected(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(24, 20, 3, false, false, 11)}
	secret := Secret{Data: testenv.RandomBytes(20, 5)}
	out, _, err := Embed(ctx, cover, secret, Options{Mode: ModeAdaptive})
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < out.r.dataSamples(); s++ {
		m := &Image{r: out.r.clone()}
		m.r.setSample(s, m.r.sample(s)^1)
		if got, err := Extract(ctx, m, Options{}); err == nil && !bytes.Equal(got.Data, secret.Data) {
			t.Fatalf("flipping sample %d returned wrong data without error", s)
		}
	}
}

// TestAdaptiveSynchronisesDirections: on a photograph, where two
// channels of a pixel both changed they mostly moved the same way, and
// turning the synchronisation off (factor 1) brings that to about half.
func TestAdaptiveSynchronisesDirections(t *testing.T) {
	photo, err := FromImage(photoCrop(t, 256, 200))
	if err != nil {
		t.Fatal(err)
	}
	room, _ := Capacity(photo, Options{Mode: ModeAdaptive})
	secret := Secret{Data: testenv.RandomBytes(room/4, 1)} // 0.125 bpc
	agree := func(ctx context.Context) float64 {
		out, _, err := Embed(ctx, photo, secret, Options{Mode: ModeAdaptive})
		if err != nil {
			t.Fatal(err)
		}
		same, pairs := 0, 0
		for p := 0; p < photo.r.width*photo.r.height; p++ {
			var d [3]int
			for c := range 3 {
				d[c] = out.r.sample(3*p+c) - photo.r.sample(3*p+c)
			}
			for a := range 3 {
				for b := a + 1; b < 3; b++ {
					if d[a] != 0 && d[b] != 0 {
						pairs++
						if d[a] == d[b] {
							same++
						}
					}
				}
			}
		}
		return float64(same) / float64(max(pairs, 1))
	}
	on, off := agree(context.Background()), agree(adaptivetune.WithSyncFactor(context.Background(), 1))
	t.Logf("same-direction share of co-changed channel pairs: %.2f synchronised, %.2f not", on, off)
	if on < 0.9 || off > 0.7 {
		t.Errorf("same-direction share %.2f synchronised (want ≥ 0.9), %.2f not (want about 0.5)", on, off)
	}
}

// TestAdaptiveCancellation: a cancelled hide returns ctx.Err() promptly
// and leaves no goroutine behind.
func TestAdaptiveCancellation(t *testing.T) {
	cover := &Image{r: noiseRaster(600, 600, 3, false, false, 1)}
	secret := Secret{Data: testenv.RandomBytes(20000, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Embed(ctx, cover, secret, Options{Mode: ModeAdaptive}); !errors.Is(err, context.Canceled) {
		t.Fatalf("embed with cancelled context: %v", err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := Embed(ctx, cover, secret, Options{Mode: ModeAdaptive})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("embed cancelled midway: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("cancellation took %v", d)
	}
	time.Sleep(20 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
}

// BenchmarkHideAdaptive hides 4 KB in the built-in 960×640 cover (the
// API's default) in adaptive mode; BenchmarkHideKeyed is the same in
// today's mode, for the ratio docs/stealth.md quotes.
func BenchmarkHideAdaptive(b *testing.B) { benchHide(b, ModeAdaptive) }

func BenchmarkHideKeyed(b *testing.B) { benchHide(b, ModeKeyed) }

func benchHide(b *testing.B, mode Mode) {
	data, err := os.ReadFile("../api/assets/cover.png")
	if err != nil {
		b.Fatal(err) // the built-in cover is part of the repository
	}
	cover, err := Decode(data, 0)
	if err != nil {
		b.Fatal(err)
	}
	secret := Secret{Name: "s.bin", Data: testenv.RandomBytes(4096, 1)}
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := Embed(ctx, cover, secret, Options{Mode: mode, Password: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAdaptiveEmbedCostBounds checks AdaptiveEmbedCost against what an
// adaptive hide allocates (testing.AllocsPerRun cannot weigh bytes, so
// it reads the runtime's count of allocated bytes around one Embed,
// less the copy).
func TestAdaptiveEmbedCostBounds(t *testing.T) {
	photo, err := FromImage(photoCrop(t, 300, 200))
	if err != nil {
		t.Fatal(err)
	}
	secret := Secret{Data: testenv.RandomBytes(2000, 1)}
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, _, err := Embed(ctx, photo, secret, Options{Mode: ModeAdaptive}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	got := int64(after.TotalAlloc-before.TotalAlloc) - photo.Bytes()
	bound := photo.AdaptiveEmbedCost()
	t.Logf("allocated %d bytes besides the copy, bound %d", got, bound)
	if got > bound {
		t.Errorf("adaptive hide allocated %d bytes besides the copy, over AdaptiveEmbedCost %d", got, bound)
	}
}

// withForgedHeader is a copy of r carrying header h for the public key,
// as anyone can write one; the body's samples are r's noise.
func withForgedHeader(t *testing.T, r *raster, h header) *Image {
	t.Helper()
	img := &Image{r: r.clone()}
	salt := make([]byte, saltSize)
	kern, aead := currentKernel(t, img.r, "", salt)
	sealed := append(salt, aead.Seal(nil, nonce(0), h.marshal(), []byte(aadHeader))...)
	rng, err := newTieRand()
	if err != nil {
		t.Fatal(err)
	}
	kern.writeHeader(sealed, rng)
	return img
}

// currentKernel binds r to the current version's order for password and
// salt, as Embed does, and returns it with the image's AEAD.
func currentKernel(t *testing.T, r *raster, password string, salt []byte) (*kernel, cipher.AEAD) {
	t.Helper()
	master, err := masterKey(password, salt, formatVersion)
	if err != nil {
		t.Fatal(err)
	}
	kern, aead, err := newSaltedKernel(r, master)
	if err != nil {
		t.Fatal(err)
	}
	return kern, aead
}

// TestAdaptiveForgedHeaders: anyone can write a header under the public
// key. Adaptive headers with extreme fields must give ErrCorrupt, never
// a panic or data.
func TestAdaptiveForgedHeaders(t *testing.T) {
	ctx := context.Background()
	r := noiseRaster(40, 30, 3, false, false, 3)
	room := adaptiveBodyCapacityBytes(r.dataSamples())
	cases := []header{
		{version: formatVersion, mode: ModeAdaptive, depth: 1, k: 1, bodyLen: tagSize + metaFixedSize},
		{version: formatVersion, mode: ModeAdaptive, depth: 1, k: maxSTCHeight, bodyLen: uint32(room)},
		{version: formatVersion, mode: ModeAdaptive, depth: 1, k: stcHeight, bodyLen: uint32(room + 1)},
		{version: formatVersion, mode: ModeAdaptive, depth: 1, k: stcHeight, bodyLen: 1 << 31},
		{version: formatVersion, mode: ModeAdaptive, depth: 2, k: stcHeight, bodyLen: 100},
		{version: formatVersion, mode: ModeAdaptive, depth: 1, k: maxSTCHeight + 1, bodyLen: 100},
	}
	for i, h := range cases {
		img := withForgedHeader(t, r, h)
		if _, err := Extract(ctx, img, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("case %d (%+v): err = %v, want ErrCorrupt", i, h, err)
		}
	}
}

// TestAdaptiveManySegments: passes over 65,536 samples are cut into
// segments embedded in parallel; the secret must still come back.
func TestAdaptiveManySegments(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(700, 420, 3, false, false, 5)} // 73,500 samples a pass: 2 segments
	r := cover.r
	if segs := adaptiveSegments(adaptivePasses(r, newSampleOrder(r.dataSamples(), legacyUnitOrder(r.dataSamples()/unitSize, [32]byte{}), ModeKeyed)), 1000); len(segs[0]) < 2 {
		t.Fatalf("pass 0 has %d segments, want ≥ 2", len(segs[0]))
	}
	secret := Secret{Data: testenv.RandomBytes(30000, 6)}
	out, _, err := Embed(ctx, cover, secret, Options{Mode: ModeAdaptive, Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Extract(ctx, out, Options{Password: "x"})
	if err != nil || !bytes.Equal(got.Data, secret.Data) {
		t.Fatalf("extract: %v", err)
	}
}

// TestExtractCostBounds: whatever mode, depth and body size a header
// declares (anyone can write one for the public key), Extract allocates
// no more than ExtractCost besides the secret. A forged adaptive header
// with a tiny body once cost 9 bytes a sample: a segment's trellis
// columns are as wide as the segment when it carries one bit.
func TestExtractCostBounds(t *testing.T) {
	ctx := context.Background()
	for _, shape := range []struct {
		name        string
		w, h, chans int
	}{{"gray 2000x2000", 2000, 2000, 1}, {"rgb 700x420", 700, 420, 3}} {
		r := noiseRaster(shape.w, shape.h, shape.chans, false, false, 3)
		room := adaptiveBodyCapacityBytes(r.dataSamples())
		for _, h := range []header{
			{version: formatVersion, mode: ModeAdaptive, depth: 1, k: stcHeight, bodyLen: tagSize + metaFixedSize},
			{version: formatVersion, mode: ModeAdaptive, depth: 1, k: stcHeight, bodyLen: uint32(room)},
			{version: formatVersion, mode: ModeKeyed, depth: 1, k: 1, bodyLen: uint32(r.dataSamples() / 8 / 2)},
			{version: formatVersion, mode: ModeKeyed, depth: 4, k: 1, bodyLen: uint32(r.dataSamples() / 2 / 2)},
			{version: formatVersion, mode: ModeSequential, depth: 1, k: 1, bodyLen: uint32(r.dataSamples() / 8 / 2)},
		} {
			t.Run(fmt.Sprintf("%s/%v depth %d body %d", shape.name, h.mode, h.depth, h.bodyLen), func(t *testing.T) {
				img := withForgedHeader(t, r, h)
				var err error
				got := int64(allocatedBy(func() { _, err = Extract(ctx, img, Options{}) }))
				if !errors.Is(err, ErrCorrupt) { // the body is noise: its tag cannot match
					t.Fatalf("Extract: %v, want ErrCorrupt", err)
				}
				if bound := img.ExtractCost(); got > bound {
					t.Fatalf("Extract allocated %d bytes, ExtractCost says at most %d", got, bound)
				}
			})
		}
	}
}

// TestEmbedCostBounds checks EmbedCost against what a hide in place
// allocates, for payloads from a few bytes to a cover filled at depth 4
// (one block a bit: the change lists dominate).
func TestEmbedCostBounds(t *testing.T) {
	ctx := context.Background()
	r := noiseRaster(700, 420, 3, false, false, 5)
	for _, tc := range []struct {
		name  string
		opts  Options
		bytes int // of secret data; -1: as much as fits
	}{
		{"keyed, 4 KB", Options{}, 4 << 10},
		{"keyed, full", Options{}, -1},
		{"keyed depth 4, full", Options{Depth: 4}, -1},
		{"sequential depth 2, full", Options{Depth: 2, Mode: ModeSequential}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := &Image{r: r.clone()}
			n := tc.bytes
			if n < 0 {
				var err error
				if n, err = DataCapacity(img, tc.opts, "", ""); err != nil {
					t.Fatal(err)
				}
			}
			opts := tc.opts
			opts.DisableCompression = true
			secret := Secret{Data: testenv.RandomBytes(n, 2)}
			var err error
			got := int64(allocatedBy(func() { _, err = EmbedInPlace(ctx, img, secret, opts) }))
			if err != nil {
				t.Fatal(err)
			}
			bound := img.EmbedCost(secret, opts)
			t.Logf("%d bytes hidden: allocated %d, bound %d", n, got, bound)
			if got > bound {
				t.Fatalf("EmbedInPlace allocated %d bytes, EmbedCost says at most %d", got, bound)
			}
		})
	}
}
