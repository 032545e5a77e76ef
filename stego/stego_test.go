package stego

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// noiseRaster makes a cover of the given shape filled with seeded noise.
// Round-trip tests need many shapes, not realistic pictures; quality and
// detectability tests use the real photographs instead.
func noiseRaster(w, h, channels int, alpha, depth16 bool, seed uint64) *raster {
	r := newRaster(w, h, channels, alpha, depth16)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range r.pix {
		r.pix[i] = byte(rng.Uint32())
	}
	return r
}

// reencode writes m in format f and decodes it again, as a user's file
// would travel.
func reencode(t testing.TB, m *Image, f Format) *Image {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf, f); err != nil {
		t.Fatalf("encode %s: %v", f, err)
	}
	out, err := Decode(buf.Bytes(), 0)
	if err != nil {
		t.Fatalf("decode %s: %v", f, err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	for si, sh := range testenv.Shapes {
		for depth := 1; depth <= 4; depth++ {
			for _, mode := range []Mode{ModeKeyed, ModeSequential, ModeAdaptive} {
				if mode == ModeAdaptive && depth > 1 {
					continue // adaptive mode embeds at depth 1 only
				}
				size := 150
				if mode == ModeAdaptive {
					size = 60 + si // half the capacity: 138 bytes in 61×47 gray
				}
				for _, password := range []string{"", "correct horse"} {
					for _, compressible := range []bool{false, true} {
						name := fmt.Sprintf("%s/depth%d/%s/pw=%t/compressible=%t", sh.Name, depth, mode, password != "", compressible)
						t.Run(name, func(t *testing.T) {
							cover := &Image{r: noiseRaster(61, 47, sh.Channels, sh.Alpha, sh.Depth16, uint64(si))}
							opts := Options{Password: password, Depth: depth, Mode: mode}
							data := testenv.RandomBytes(size, uint64(depth))
							if compressible {
								data = bytes.Repeat([]byte("stego "), 60)
							}
							secret := Secret{Name: "note.txt", MIME: "text/plain", Data: data}
							out, stats, err := Embed(ctx, cover, secret, opts)
							if err != nil {
								t.Fatalf("embed: %v", err)
							}
							if stats.Compressed != compressible || stats.Mode != mode || stats.ChangedSamples == 0 {
								t.Errorf("stats %+v, want compressed = %t in %s mode", stats, compressible, mode)
							}
							formats := []Format{PNG}
							if !sh.Depth16 && !(sh.Channels == 1 && sh.Alpha) {
								formats = append(formats, BMP)
							}
							for _, f := range formats {
								got, err := Extract(ctx, reencode(t, out, f), Options{Password: password})
								if err != nil {
									t.Fatalf("extract from %s: %v", f, err)
								}
								if got.Name != secret.Name || got.MIME != secret.MIME || !bytes.Equal(got.Data, secret.Data) {
									t.Fatalf("extract from %s: got %q %q %d bytes, want %q %q %d bytes", f, got.Name, got.MIME, len(got.Data), secret.Name, secret.MIME, len(secret.Data))
								}
							}
							assertAlphaAndRangeKept(t, cover.r, out.r, depth)
						})
					}
				}
			}
		}
	}
}

// assertAlphaAndRangeKept checks that alpha is bit-identical and that no
// data sample moved by more than the depth allows.
func assertAlphaAndRangeKept(t *testing.T, before, after *raster, depth int) {
	t.Helper()
	spp, bps := before.samplesPerPixel(), before.bytesPerSample()
	if before.alpha {
		for i := (spp - 1) * bps; i < len(before.pix); i += spp * bps {
			if before.pix[i] != after.pix[i] || (bps == 2 && before.pix[i+1] != after.pix[i+1]) {
				t.Fatalf("alpha changed at byte %d", i)
			}
		}
	}
	limit := 1 << (depth - 1)
	if depth == 1 {
		limit = 1
	}
	for s := 0; s < before.dataSamples(); s++ {
		if d := abs(after.sample(s) - before.sample(s)); d > 1<<depth-1 {
			t.Fatalf("sample %d moved by %d (depth %d, usual limit %d)", s, d, depth, limit)
		}
	}
}

func TestCapacityIsExact(t *testing.T) {
	ctx := context.Background()
	for _, sh := range []testenv.Shape{testenv.Shapes[0], testenv.Shapes[3], testenv.Shapes[6]} {
		for depth := 1; depth <= 4; depth++ {
			for _, mode := range []Mode{ModeKeyed, ModeSequential, ModeAdaptive} {
				if mode == ModeAdaptive && depth > 1 {
					continue // adaptive mode embeds at depth 1 only
				}
				for _, password := range []string{"", "pw"} {
					for _, disable := range []bool{false, true} {
						for _, meta := range []Secret{{}, {Name: "a-rather-long-file-name.bin", MIME: "application/octet-stream"}} {
							name := fmt.Sprintf("%s/depth%d/%s/pw=%t/nocompress=%t/meta=%d", sh.Name, depth, mode, password != "", disable, len(meta.Name))
							t.Run(name, func(t *testing.T) {
								const w, h = 50, 37 // adaptive mode's half capacity still holds the long name
								cover := &Image{r: noiseRaster(w, h, sh.Channels, sh.Alpha, sh.Depth16, 7)}
								opts := Options{Password: password, Depth: depth, Mode: mode, DisableCompression: disable}
								capacity, err := Capacity(cover, opts)
								if err != nil {
									t.Fatal(err)
								}
								bodyBits := (w*h*sh.Channels - headerSamples) * depth
								if mode == ModeAdaptive {
									bodyBits /= 2 // half a bit per body sample
								}
								want := bodyBits/8 - tagSize - metaFixedSize
								if capacity != want {
									t.Fatalf("Capacity = %d, want %d", capacity, want)
								}
								room, err := DataCapacity(cover, opts, meta.Name, meta.MIME)
								if err != nil || room != capacity-len(meta.Name)-len(meta.MIME) {
									t.Fatalf("DataCapacity = %d, %v; want Capacity %d less the name and MIME type", room, err, capacity)
								}
								fit := meta
								fit.Data = testenv.RandomBytes(room, 3)
								if ok, err := Fits(cover, fit, opts); !ok || err != nil {
									t.Fatalf("Fits at capacity = %t, %v", ok, err)
								}
								out, _, err := Embed(ctx, cover, fit, opts)
								if err != nil {
									t.Fatalf("secret of exactly capacity: %v", err)
								}
								got, err := Extract(ctx, out, Options{Password: password})
								if err != nil || !bytes.Equal(got.Data, fit.Data) {
									t.Fatalf("extract at capacity: %v", err)
								}
								over := meta
								over.Data = testenv.RandomBytes(len(fit.Data)+1, 3)
								if ok, _ := Fits(cover, over, opts); ok {
									t.Fatal("Fits one byte over capacity")
								}
								_, _, err = Embed(ctx, cover, over, opts)
								var ce *CapacityError
								if !errors.Is(err, ErrTooLarge) || !errors.As(err, &ce) {
									t.Fatalf("one byte over capacity: err = %v, want ErrTooLarge", err)
								}
								if ce.Needed != room+1 || ce.Available != room || ce.Metadata != len(meta.Name)+len(meta.MIME) {
									t.Fatalf("CapacityError = %+v, want needed %d available %d", ce, room+1, room)
								}
							})
						}
					}
				}
			}
		}
	}
}

func TestWrongPasswordLooksLikeCleanImage(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(64, 64, 3, false, false, 9)}
	out, _, err := Embed(ctx, cover, Secret{Data: []byte("the secret")}, Options{Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		img      *Image
		password string
	}{
		{"wrong password", out, "wrong"},
		{"no password", out, ""},
		{"clean image", cover, "right"},
		{"clean image, no password", cover, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract(ctx, tc.img, Options{Password: tc.password})
			if err != ErrNoHiddenData {
				t.Fatalf("err = %v, want exactly ErrNoHiddenData", err)
			}
		})
	}
}

// TestEveryModificationIsDetected flips the low bit of every sample of a
// stego image in turn: extraction must return the original secret or an
// error, never different data.
func TestEveryModificationIsDetected(t *testing.T) {
	ctx := context.Background()
	for _, depth := range []int{1, 3} {
		cover := &Image{r: noiseRaster(24, 20, 3, false, false, 11)}
		secret := Secret{Name: "s", Data: testenv.RandomBytes(60, 5)}
		out, stats, err := Embed(ctx, cover, secret, Options{Depth: depth})
		if err != nil {
			t.Fatal(err)
		}
		detected := 0
		for s := 0; s < out.r.dataSamples(); s++ {
			for bit := 0; bit < depth; bit++ {
				m := &Image{r: out.r.clone()}
				m.r.setSample(s, m.r.sample(s)^1<<bit)
				got, err := Extract(ctx, m, Options{})
				switch {
				case err == nil && !bytes.Equal(got.Data, secret.Data):
					t.Fatalf("depth %d: flipping bit %d of sample %d returned wrong data without error", depth, bit, s)
				case err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNoHiddenData):
					t.Fatalf("unexpected error %v", err)
				case err != nil:
					detected++
				}
			}
		}
		if detected < stats.SamplesUsed {
			t.Errorf("depth %d: only %d of the %d used samples' flips were detected", depth, detected, stats.SamplesUsed)
		}
	}
}

func TestMatrixCodingChangesFewerSamples(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(200, 200, 3, false, false, 13)}
	capacity, _ := Capacity(cover, Options{})
	for _, frac := range []float64{0.02, 0.1, 0.3, 1} {
		size := int(float64(capacity) * frac)
		_, stats, err := Embed(ctx, cover, Secret{Data: testenv.RandomBytes(size, 1)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		bits := 8 * stats.PayloadBytes
		// Plain LSB matching changes half the bits it writes; Hamming
		// coding with k changes at most one sample per 2^k-1 slots.
		changesPerBit := float64(stats.ChangedSamples) / float64(bits)
		t.Logf("fill %.2f: k=%d, %.3f changes per payload bit", frac, stats.MatrixK, changesPerBit)
		if frac < 0.3 && (stats.MatrixK < 3 || changesPerBit > 0.3) {
			t.Errorf("fill %.2f: k=%d, %.3f changes per bit; matrix coding should do better than 0.3", frac, stats.MatrixK, changesPerBit)
		}
		if frac == 1 && stats.MatrixK != 1 {
			t.Errorf("full cover: k=%d, want 1", stats.MatrixK)
		}
	}
}

func TestInvalidOptions(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(16, 16, 3, false, false, 1)}
	for _, opts := range []Options{{Depth: 5}, {Depth: -1}, {Mode: 7}} {
		if _, _, err := Embed(ctx, cover, Secret{Data: []byte("x")}, opts); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Embed(%+v) err = %v, want ErrInvalidOptions", opts, err)
		}
	}
	if _, _, err := Embed(ctx, cover, Secret{Name: string(make([]byte, 256)), Data: []byte("x")}, Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("256-byte name: err = %v, want ErrInvalidOptions", err)
	}
}

func TestTinyCover(t *testing.T) {
	ctx := context.Background()
	cover := &Image{r: noiseRaster(4, 4, 1, false, false, 1)}
	if c, err := Capacity(cover, Options{}); c != 0 || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("capacity of a 16-sample cover = %d, %v; want 0 and ErrTooLarge (not even an empty secret fits)", c, err)
	}
	if _, _, err := Embed(ctx, cover, Secret{}, Options{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("embed into a 16-sample cover: %v, want ErrTooLarge", err)
	}
	if _, err := Extract(ctx, cover, Options{}); err != ErrNoHiddenData {
		t.Fatalf("extract from a 16-sample cover: %v, want ErrNoHiddenData", err)
	}
}

func TestCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cover := &Image{r: noiseRaster(300, 300, 3, false, false, 1)}
	if _, _, err := Embed(ctx, cover, Secret{Data: testenv.RandomBytes(1000, 1)}, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("embed with cancelled context: %v", err)
	}
	// An extraction with a password gives up before each key derivation:
	// a wrong password would otherwise cost three after its caller left.
	start := time.Now()
	if _, err := Extract(ctx, cover, Options{Password: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("extract with cancelled context: %v", err)
	}
	t.Logf("a cancelled extract with a password returned after %v", time.Since(start))
}

// TestCloneInto: a copy made into recycled memory is the image, whatever
// that memory held, and shares nothing with the original.
func TestCloneInto(t *testing.T) {
	src := &Image{r: newRaster(30, 20, 3, true, false), SourceFormat: "png", Notes: []string{"a note"}, Public: true}
	copy(src.r.pix, testenv.RandomBytes(len(src.r.pix), 3))
	for _, tc := range []struct {
		name string
		dst  *Image
	}{
		{"nil", nil},
		{"smaller", &Image{r: newRaster(4, 4, 1, false, false), Notes: []string{"old", "older"}}},
		{"larger", &Image{r: newRaster(100, 100, 3, true, true), SourceFormat: "jpeg", lossyWebP: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := src.CloneInto(tc.dst)
			if tc.dst != nil && got != tc.dst {
				t.Fatal("did not return dst")
			}
			if !bytes.Equal(got.r.pix, src.r.pix) || got.r.width != 30 || got.r.height != 20 || !got.r.alpha || got.r.depth16 ||
				got.SourceFormat != "png" || !slices.Equal(got.Notes, src.Notes) || !got.Public || got.lossyWebP {
				t.Fatalf("copy differs: %+v", got)
			}
			got.r.pix[0]++
			got.Notes[0] = "changed"
			if got.r.pix[0] == src.r.pix[0] || src.Notes[0] != "a note" {
				t.Fatal("the copy shares memory with the original")
			}
		})
	}
}
