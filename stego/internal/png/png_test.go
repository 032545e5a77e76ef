package png

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// pngTestMaxPixels stands in for the package default so that these tests
// do not depend on other files.
const pngTestMaxPixels = 50_000_000

// pngTestRaster fills a raster with content of the given kind: "smooth"
// (gradient plus a little noise, like a photo), "noise" (incompressible)
// or "flat" (mostly constant, which takes the LZ coder). Alpha cycles
// through 0, 128, 200 and 255 (scaled for 16 bits) so that every value
// class must survive.
func pngTestRaster(s testenv.Shape, w, h int, kind string, seed int64) *Image {
	r := newTestImage(w, h, s.Channels, s.Alpha, s.Depth16)
	rnd := rand.New(rand.NewSource(seed))
	alphas := []int{0, 128, 200, 255}
	spp, bps := samplesPerPixel(r), bytesPerSample(r)
	maxSample := 1<<(8*bps) - 1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < spp; c++ {
				var v int
				switch {
				case s.Alpha && c == spp-1:
					v = alphas[(x+y)%len(alphas)]
					if bps == 2 {
						v = v<<8 | v
					}
				case kind == "noise":
					v = rnd.Intn(maxSample + 1)
				case kind == "flat":
					v = 40 * (c + 1)
					if (x/16+y/16)%7 == 0 {
						v = 200
					}
					if bps == 2 {
						v = v<<8 | 0x5a
					}
				default:
					v = (x*3 + y*2 + c*50 + rnd.Intn(5)) % 256
					if bps == 2 {
						v = v<<8 | rnd.Intn(256)
					}
				}
				o := ((y*w+x)*spp + c) * bps
				if bps == 2 {
					r.Pix[o], r.Pix[o+1] = byte(v>>8), byte(v)
				} else {
					r.Pix[o] = byte(v)
				}
			}
		}
	}
	return r
}

// pngStdSamples extracts raster-layout samples from what image/png
// decoded, failing the test if the image type or gray-alpha equality is
// not what the shape implies.
func pngStdSamples(t testing.TB, img image.Image, s testenv.Shape) []byte {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var out []byte
	grab := func(pix []byte, stride, bpp int, keep func(px []byte) []byte) {
		for y := 0; y < h; y++ {
			row := pix[y*stride : y*stride+w*bpp]
			for x := 0; x < w; x++ {
				out = append(out, keep(row[x*bpp:(x+1)*bpp])...)
			}
		}
	}
	all := func(px []byte) []byte { return px }
	rgb := func(n int) func([]byte) []byte { return func(px []byte) []byte { return px[:3*n] } }
	grayAlpha := func(n int) func([]byte) []byte {
		return func(px []byte) []byte {
			if !bytes.Equal(px[:n], px[n:2*n]) || !bytes.Equal(px[:n], px[2*n:3*n]) {
				t.Fatalf("gray+alpha decoded by image/png with unequal channels %v", px)
			}
			return append(append([]byte(nil), px[:n]...), px[3*n:]...)
		}
	}
	switch m := img.(type) {
	case *image.Gray:
		grab(m.Pix, m.Stride, 1, all)
	case *image.Gray16:
		grab(m.Pix, m.Stride, 2, all)
	case *image.RGBA: // opaque RGB
		grab(m.Pix, m.Stride, 4, rgb(1))
	case *image.RGBA64:
		grab(m.Pix, m.Stride, 8, rgb(2))
	case *image.NRGBA:
		if s.Channels == 1 {
			grab(m.Pix, m.Stride, 4, grayAlpha(1))
		} else {
			grab(m.Pix, m.Stride, 4, all)
		}
	case *image.NRGBA64:
		if s.Channels == 1 {
			grab(m.Pix, m.Stride, 8, grayAlpha(2))
		} else {
			grab(m.Pix, m.Stride, 8, all)
		}
	default:
		t.Fatalf("image/png gave %T", img)
	}
	return out
}

func pngShapeOf(r *Image) testenv.Shape {
	return testenv.Shape{Channels: r.Channels, Alpha: r.Alpha, Depth16: r.Depth16}
}

// pngCheckBoth decodes data with decodePNG and image/png and checks both
// give want's samples.
func pngCheckBoth(t *testing.T, data []byte, want *Image) {
	t.Helper()
	got, err := Decode(data, pngTestMaxPixels)
	if err != nil {
		t.Fatalf("decodePNG: %v", err)
	}
	if got.Width != want.Width || got.Height != want.Height || got.Channels != want.Channels ||
		got.Alpha != want.Alpha || got.Depth16 != want.Depth16 {
		t.Fatalf("decodePNG shape %dx%d ch=%d alpha=%v 16=%v, want %dx%d ch=%d alpha=%v 16=%v",
			got.Width, got.Height, got.Channels, got.Alpha, got.Depth16,
			want.Width, want.Height, want.Channels, want.Alpha, want.Depth16)
	}
	if len(got.Pix) != len(want.Pix) || cap(got.Pix) != len(got.Pix) {
		t.Fatalf("decodePNG pix len %d cap %d, want %d", len(got.Pix), cap(got.Pix), len(want.Pix))
	}
	if i := pngFirstDiff(got.Pix, want.Pix); i >= 0 {
		t.Fatalf("decodePNG differs at byte %d: %d != %d", i, got.Pix[i], want.Pix[i])
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image/png: %v", err)
	}
	if std := pngStdSamples(t, img, pngShapeOf(want)); !bytes.Equal(std, want.Pix) {
		t.Fatalf("image/png differs at byte %d", pngFirstDiff(std, want.Pix))
	}
}

func pngFirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func pngEncodeT(t testing.TB, r *Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, r); err != nil {
		t.Fatalf("encodePNG: %v", err)
	}
	return buf.Bytes()
}

// pngMultiBandSize returns dimensions that give at least four bands with
// a short last one, so the parallel path and uneven bands are exercised.
func pngMultiBandSize(s testenv.Shape) (w, h int) {
	w = 1001
	r := Image{Width: w, Channels: s.Channels, Alpha: s.Alpha, Depth16: s.Depth16}
	rows := pngBandBytes / (r.rowStride() + 1)
	return w, 3*rows + 5
}

func TestPNGRoundTrip(t *testing.T) {
	sizes := []struct{ w, h int }{{1, 1}, {1, 9}, {9, 1}, {3, 7}, {64, 33}}
	for _, s := range testenv.Shapes {
		mw, mh := pngMultiBandSize(s)
		for _, sz := range append(sizes, struct{ w, h int }{mw, mh}) {
			for _, kind := range []string{"smooth", "noise", "flat"} {
				t.Run(fmt.Sprintf("%s/%dx%d/%s", s.Name, sz.w, sz.h, kind), func(t *testing.T) {
					r := pngTestRaster(s, sz.w, sz.h, kind, int64(sz.w*sz.h))
					data := pngEncodeT(t, r)
					pngCheckBoth(t, data, r)
					w, h, depth, ct, il, err := pngHeader(data)
					wantCT := map[[2]bool]int{{false, false}: 0, {false, true}: 4, {true, false}: 2, {true, true}: 6}[[2]bool{s.Channels == 3, s.Alpha}]
					if err != nil || w != sz.w || h != sz.h || depth != 8*bytesPerSample(r) || ct != wantCT || il {
						t.Fatalf("pngHeader = %d %d %d %d %v %v", w, h, depth, ct, il, err)
					}
				})
			}
		}
	}
}

// TestPNGAlphaValues checks the alpha classes explicitly rather than
// relying on the round trip alone: 0 in particular must not zero the
// colour (image/png would if it were fed premultiplied data).
func TestPNGAlphaValues(t *testing.T) {
	for _, s := range testenv.Shapes {
		if !s.Alpha {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			r := pngTestRaster(s, 8, 2, "smooth", 1)
			got, err := Decode(pngEncodeT(t, r), pngTestMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			spp, bps := samplesPerPixel(got), bytesPerSample(got)
			for i := 0; i < got.Width*got.Height; i++ {
				o := (i*spp + spp - 1) * bps
				seen[int(got.Pix[o])] = true
				if !bytes.Equal(got.Pix[o:o+bps], r.Pix[o:o+bps]) {
					t.Fatalf("alpha of pixel %d changed", i)
				}
			}
			for _, a := range []int{0, 128, 200, 255} {
				if !seen[a] {
					t.Errorf("alpha %d missing after round trip", a)
				}
			}
			if !bytes.Equal(got.Pix, r.Pix) {
				t.Fatal("samples changed")
			}
		})
	}
}

// pngLoadCover reads the large test photograph (an 8-bit RGB PNG) and
// returns the file, its samples as image/png decodes them, and that image.
func pngLoadCover(t testing.TB) ([]byte, *Image, image.Image) {
	t.Helper()
	data := testenv.Cover(t, testenv.CoverLargePNG)
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s := testenv.Shape{Channels: 3}
	b := img.Bounds()
	r := &Image{Width: b.Dx(), Height: b.Dy(), Channels: 3, Pix: pngStdSamples(t, img, s)}
	return data, r, img
}

// pngNoised applies ±1 to about half of the samples: what LSB-matching
// stego output looks like to the compressor.
func pngNoised(r *Image) *Image {
	n := *r
	n.Pix = append([]byte(nil), r.Pix...)
	rnd := rand.New(rand.NewSource(7))
	for i, v := range n.Pix {
		switch rnd.Intn(4) {
		case 0:
			if v < 255 {
				n.Pix[i]++
			} else {
				n.Pix[i]--
			}
		case 1:
			if v > 0 {
				n.Pix[i]--
			} else {
				n.Pix[i]++
			}
		}
	}
	return &n
}

func TestPNGCover(t *testing.T) {
	data, r, img := pngLoadCover(t)
	pngCheckBoth(t, data, r)
	for _, c := range []struct {
		name string
		r    *Image
	}{{"clean", r}, {"noised", pngNoised(r)}} {
		t.Run(c.name, func(t *testing.T) {
			ours := pngEncodeT(t, c.r)
			pngCheckBoth(t, ours, c.r)
			var std bytes.Buffer
			if c.r == r {
				err := png.Encode(&std, img)
				if err != nil {
					t.Fatal(err)
				}
			} else if err := png.Encode(&std, c.r.Std()); err != nil {
				t.Fatal(err)
			}
			ratio := float64(len(ours)) / float64(std.Len())
			t.Logf("ours %d bytes, image/png %d bytes, ratio %.3f", len(ours), std.Len(), ratio)
			if ratio > 1.10 {
				t.Errorf("output %.1f%% larger than image/png's", 100*(ratio-1))
			}
		})
	}
}

func TestPNGAdler32Combine(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	buf := make([]byte, 300000)
	rnd.Read(buf)
	for _, cut := range []int{0, 1, 5552, 65521, 65522, 100000, 299999, 300000} {
		a, b := buf[:cut], buf[cut:]
		got := pngAdler32Combine(adler32.Checksum(a), adler32.Checksum(b), len(b))
		if want := adler32.Checksum(buf); got != want {
			t.Errorf("cut %d: combine %#x, want %#x", cut, got, want)
		}
	}
	if got := pngAdler32Combine(1, 1, 0); got != 1 {
		t.Errorf("combine of empties = %#x", got)
	}
}

func TestPNGPaeth(t *testing.T) {
	ref := func(a, b, c uint8) uint8 {
		p := int(a) + int(b) - int(c)
		abs := func(x int) int {
			if x < 0 {
				return -x
			}
			return x
		}
		pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
		if pa <= pb && pa <= pc {
			return a
		}
		if pb <= pc {
			return b
		}
		return c
	}
	for a := 0; a < 256; a += 3 {
		for b := 0; b < 256; b++ {
			for c := 0; c < 256; c += 5 {
				if got, want := pngPaeth(uint8(a), uint8(b), uint8(c)), ref(uint8(a), uint8(b), uint8(c)); got != want {
					t.Fatalf("paeth(%d,%d,%d) = %d, want %d", a, b, c, got, want)
				}
			}
		}
	}
}

// TestPNGDecodeAllFilters feeds decodePNG images written by image/png,
// whose per-row adaptive filter uses all five filter types, and images
// with several IDAT chunks.
func TestPNGDecodeAllFilters(t *testing.T) {
	for _, s := range testenv.Shapes {
		for _, kind := range []string{"smooth", "noise", "flat"} {
			t.Run(s.Name+"/"+kind, func(t *testing.T) {
				r := pngTestRaster(s, 97, 301, kind, 5)
				var buf bytes.Buffer
				if err := png.Encode(&buf, r.Std()); err != nil {
					t.Fatal(err)
				}
				data := buf.Bytes()
				// image/png writes gray+alpha as RGBA, so the file's shape
				// can differ from r's; compare against the file's shape.
				_, _, _, ct, _, err := pngHeader(data)
				if err != nil {
					t.Fatal(err)
				}
				want := r
				if ct == pngColorRGBA && s.Channels == 1 {
					want = pngTestToRGBA(r)
				}
				pngCheckBoth(t, data, want)
			})
		}
	}
}

func pngTestToRGBA(r *Image) *Image {
	out := newTestImage(r.Width, r.Height, 3, true, r.Depth16)
	bps := bytesPerSample(r)
	for i := 0; i < r.Width*r.Height; i++ {
		g := r.Pix[2*i*bps : (2*i+1)*bps]
		a := r.Pix[(2*i+1)*bps : (2*i+2)*bps]
		p := out.Pix[4*i*bps:]
		copy(p, g)
		copy(p[bps:], g)
		copy(p[2*bps:], g)
		copy(p[3*bps:], a)
	}
	return out
}

// pngTestChunk builds one chunk.
func pngTestChunk(typ string, data []byte) []byte {
	c := make([]byte, 8+len(data)+4)
	copy(c[8:], data)
	pngFinishChunk(c, typ)
	return c
}

func pngTestIHDR(w, h uint32, depth, ct, interlace byte) []byte {
	var d [13]byte
	binary.BigEndian.PutUint32(d[0:], w)
	binary.BigEndian.PutUint32(d[4:], h)
	d[8], d[9], d[12] = depth, ct, interlace
	return pngTestChunk("IHDR", d[:])
}

// pngSplice returns data with chunk inserted before the first IDAT.
func pngSplice(data, chunk []byte) []byte {
	i := bytes.Index(data, []byte("IDAT")) - 4
	return append(append(append([]byte(nil), data[:i]...), chunk...), data[i:]...)
}

func TestPNGNotFastPath(t *testing.T) {
	pal := image.NewPaletted(image.Rect(0, 0, 5, 5), color.Palette{color.Black, color.White, color.Gray{100}})
	var palBuf bytes.Buffer
	if err := png.Encode(&palBuf, pal); err != nil {
		t.Fatal(err)
	}
	rgb := pngEncodeT(t, pngTestRaster(testenv.Shapes[2], 4, 4, "smooth", 1))
	gray := pngEncodeT(t, pngTestRaster(testenv.Shapes[0], 4, 4, "smooth", 1))
	interlaced := append([]byte(pngSignature), pngTestIHDR(4, 4, 8, 2, 1)...)
	interlaced = append(interlaced, rgb[len(pngSignature)+25:]...)
	lowDepth := append([]byte(pngSignature), pngTestIHDR(4, 4, 4, 0, 0)...)
	for name, data := range map[string][]byte{
		"paletted":   palBuf.Bytes(),
		"interlaced": interlaced,
		"depth4":     lowDepth,
		"trns-rgb":   pngSplice(rgb, pngTestChunk("tRNS", []byte{0, 1, 0, 2, 0, 3})),
		"trns-gray":  pngSplice(gray, pngTestChunk("tRNS", []byte{0, 1})),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(data, pngTestMaxPixels)
			if !errors.Is(err, ErrNotFastPath) {
				t.Fatalf("err = %v, want ErrNotFastPath", err)
			}
		})
	}
	// An ancillary chunk and a suggested palette are fine.
	r := pngTestRaster(testenv.Shapes[2], 4, 4, "smooth", 1)
	withExtras := pngSplice(pngSplice(rgb, pngTestChunk("PLTE", []byte{1, 2, 3})), pngTestChunk("tEXt", []byte("k\x00v")))
	pngCheckBoth(t, withExtras, r)
}

func TestPNGMalformed(t *testing.T) {
	r := pngTestRaster(testenv.Shapes[3], 40, 30, "smooth", 2)
	valid := pngEncodeT(t, r)
	check := func(t *testing.T, data []byte) {
		t.Helper()
		got, err := Decode(data, pngTestMaxPixels)
		if err == nil {
			t.Fatalf("decoded %dx%d from malformed input", got.Width, got.Height)
		}
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("err = %v, want ErrFormat", err)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		for n := 0; n < len(valid); n++ {
			check(t, valid[:n])
		}
	})
	t.Run("bitflip", func(t *testing.T) {
		// Every byte is covered by the signature, a length or a CRC.
		for i := range valid {
			d := append([]byte(nil), valid...)
			d[i] ^= 0x10
			check(t, d)
		}
	})
	// Damage inside the zlib stream with the chunk CRC fixed up, so the
	// inflater and the adler32 check are what must catch it.
	idat := bytes.Index(valid, []byte("IDAT")) - 4
	idatLen := int(binary.BigEndian.Uint32(valid[idat:]))
	fix := func(d []byte) []byte {
		n := int(binary.BigEndian.Uint32(d[idat:]))
		binary.BigEndian.PutUint32(d[idat+8+n:], crc32.ChecksumIEEE(d[idat+4:idat+8+n]))
		return d
	}
	t.Run("zlib-damage", func(t *testing.T) {
		for i := 0; i < idatLen; i++ {
			d := append([]byte(nil), valid...)
			d[idat+8+i] ^= 0x01
			check(t, fix(d))
		}
	})
	t.Run("filter-type", func(t *testing.T) {
		// A row with filter type 5, properly compressed.
		f := make([]byte, 2*(1+3))
		f[0], f[4] = 0, 5
		check(t, pngTestFromFiltered(t, 3, 2, 8, 0, f))
	})
	t.Run("filter-type-pipelined", func(t *testing.T) {
		// Large enough for the two-goroutine decoder, which must stop
		// cleanly when unfiltering fails halfway.
		const w, h = 1000, 300
		f := make([]byte, h*(w+1))
		f[150*(w+1)] = 7
		base := runtime.NumGoroutine()
		check(t, pngTestFromFiltered(t, w, h, 8, 0, f))
		// The decoder's goroutines must end; a loaded machine may take a
		// moment to schedule their exit.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if g := runtime.NumGoroutine(); g > base {
			t.Errorf("%d goroutines left, had %d", g, base)
		}
	})
	t.Run("too-much-data", func(t *testing.T) {
		check(t, pngTestFromFiltered(t, 3, 2, 8, 0, make([]byte, 2*(1+3)+1)))
	})
	t.Run("too-little-data", func(t *testing.T) {
		check(t, pngTestFromFiltered(t, 3, 2, 8, 0, make([]byte, 2*(1+3)-1)))
	})
	t.Run("no-IEND", func(t *testing.T) {
		check(t, valid[:len(valid)-12])
	})
	t.Run("no-IDAT", func(t *testing.T) {
		check(t, append(append([]byte(pngSignature), pngTestIHDR(1, 1, 8, 0, 0)...), pngTestChunk("IEND", nil)...))
	})
	t.Run("zero-width", func(t *testing.T) {
		check(t, append([]byte(pngSignature), pngTestIHDR(0, 1, 8, 0, 0)...))
	})
	t.Run("bad-depth", func(t *testing.T) {
		check(t, append([]byte(pngSignature), pngTestIHDR(1, 1, 7, 2, 0)...))
	})
	t.Run("trailing-after-adler", func(t *testing.T) {
		d := append([]byte(nil), valid[:idat]...)
		data := append(append([]byte(nil), valid[idat+8:idat+8+idatLen]...), 0)
		d = append(d, pngTestChunk("IDAT", data)...)
		check(t, append(d, pngTestChunk("IEND", nil)...))
	})
}

// pngTestFromFiltered wraps already-filtered rows into a PNG.
func pngTestFromFiltered(t testing.TB, w, h uint32, depth, ct byte, filtered []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	z.WriteString("\x78\x01")
	fw, err := flate.NewWriter(&z, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(filtered)
	fw.Close()
	z.Write(binary.BigEndian.AppendUint32(nil, adler32.Checksum(filtered)))
	d := append([]byte(pngSignature), pngTestIHDR(w, h, depth, ct, 0)...)
	d = append(d, pngTestChunk("IDAT", z.Bytes())...)
	return append(d, pngTestChunk("IEND", nil)...)
}

func TestPNGTooLarge(t *testing.T) {
	huge := append([]byte(pngSignature), pngTestIHDR(100000, 100000, 8, 6, 0)...)
	huge = append(huge, pngTestChunk("IDAT", []byte{0x78, 0x01, 0x03, 0x00})...)
	huge = append(huge, pngTestChunk("IEND", nil)...)

	measure := func(maxPixels int64) (uint64, error) {
		var err error
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			_, err = Decode(huge, maxPixels)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / 10, err
	}
	alloc, err := measure(pngTestMaxPixels)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if alloc > 4096 {
		t.Errorf("refusing allocated %d bytes", alloc)
	}
	// Under a limit it fits, a tiny file still cannot make us allocate the
	// 40 GB it declares.
	alloc, err = measure(1 << 40)
	want := ErrFormat
	if math.MaxInt == math.MaxInt32 {
		want = ErrTooLarge // its rows alone overflow a 32-bit int
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if alloc > 4096 {
		t.Errorf("refusing allocated %d bytes", alloc)
	}
}

// pngFailWriter fails once more than n bytes were written.
type pngFailWriter struct{ n int }

func (w *pngFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestPNGEncodeWriteErrorAndGoroutines(t *testing.T) {
	s := testenv.Shapes[2]
	w, h := pngMultiBandSize(s)
	r := pngTestRaster(s, w, h, "noise", 1)
	full := len(pngEncodeT(t, r))
	base := runtime.NumGoroutine()
	for _, procs := range []int{1, 2, 8} {
		old := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 40, 100000, full / 2, full - 13} {
			if err := Encode(&pngFailWriter{n: n}, r); err == nil {
				t.Errorf("procs %d, fail after %d: no error", procs, n)
			}
		}
		pngCheckBoth(t, pngEncodeT(t, r), r)
		runtime.GOMAXPROCS(old)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base {
		t.Errorf("%d goroutines left running, had %d", g, base)
	}
}

func TestPNGEncodeRejects(t *testing.T) {
	for name, r := range map[string]*Image{
		"empty":     {Width: 0, Height: 1, Channels: 1},
		"channels":  {Width: 1, Height: 1, Channels: 2, Pix: make([]byte, 2)},
		"short-pix": {Width: 2, Height: 2, Channels: 3, Pix: make([]byte, 11)},
	} {
		if err := Encode(io.Discard, r); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzDecodePNG(f *testing.F) {
	for i, s := range testenv.Shapes {
		f.Add(pngEncodeT(f, pngTestRaster(s, 3+i, 2, "smooth", int64(i))))
		var buf bytes.Buffer
		if err := png.Encode(&buf, pngTestRaster(s, 5, 4, "noise", int64(i)).Std()); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(pngEncodeT(f, pngTestRaster(testenv.Shapes[3], 20, 20, "flat", 1)))
	for _, level := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression} {
		// Streams cut into IDAT chunks of a few bytes.
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, pngTestRaster(testenv.Shapes[2], 6, 5, "noise", 9).Std()); err != nil {
			f.Fatal(err)
		}
		s := pngIDATStream(buf.Bytes(), len(pngSignature)+25)
		z := make([]byte, s.len())
		s.copyTo(z, 0)
		f.Add(pngTestRechunk(buf.Bytes(), z, []int{1, 2, 3}))
	}
	f.Add([]byte(pngSignature))
	f.Add([]byte("garbage, not a png at all"))
	f.Add(append([]byte(pngSignature), pngTestIHDR(100000, 100000, 8, 6, 0)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		pngFuzzCheck(t, data)
		// Mutations rarely keep chunk CRCs valid; repairing them lets the
		// fuzzer reach the zlib stream and the chunk-order rules.
		pngFuzzCheck(t, pngFixCRCs(data))
	})
}

// FuzzDecodePNGRows wraps fuzzed bytes, taken as filtered rows, into a
// well-formed PNG, so that every filter type and row shape is compared
// against image/png.
func FuzzDecodePNGRows(f *testing.F) {
	f.Add(uint8(0), uint8(3), []byte{0, 1, 2, 3, 1, 4, 5, 6, 2, 7, 8, 9, 3, 1, 1, 1, 4, 200, 3, 9})
	f.Add(uint8(7), uint8(1), []byte{4, 1, 2, 3, 4, 5, 6, 7, 8, 3, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, shape, width uint8, rows []byte) {
		s := testenv.Shapes[int(shape)%len(testenv.Shapes)]
		r := Image{Width: int(width)%16 + 1, Channels: s.Channels, Alpha: s.Alpha, Depth16: s.Depth16}
		frow := r.rowStride() + 1
		h := len(rows) / frow
		if h == 0 {
			return
		}
		rows = append([]byte(nil), rows[:h*frow]...)
		for y := 0; y < h; y++ {
			rows[y*frow] %= 5
		}
		ct := map[[2]bool]byte{{false, false}: 0, {false, true}: 4, {true, false}: 2, {true, true}: 6}[[2]bool{s.Channels == 3, s.Alpha}]
		depth := byte(8 * bytesPerSample(&r))
		data := pngTestFromFiltered(t, uint32(r.Width), uint32(h), depth, ct, rows)
		got, err := Decode(data, pngTestMaxPixels)
		if err != nil {
			t.Fatalf("decodePNG: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("image/png: %v", err)
		}
		if std := pngStdSamples(t, img, s); !bytes.Equal(std, got.Pix) {
			t.Fatalf("samples differ from image/png at %d", pngFirstDiff(std, got.Pix))
		}
	})
}

func pngFuzzCheck(t *testing.T, data []byte) {
	const maxPixels = 1 << 20
	got, err := Decode(data, maxPixels)
	if err != nil {
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrNotFastPath) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	// Whatever we accept, image/png must accept with the same samples.
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decodePNG accepted what image/png rejects: %v", err)
	}
	if std := pngStdSamples(t, img, pngShapeOf(got)); !bytes.Equal(std, got.Pix) {
		t.Fatal("samples differ from image/png")
	}
}

// pngFixCRCs returns a copy of data with the CRC of every chunk that fits
// recomputed.
func pngFixCRCs(data []byte) []byte {
	d := append([]byte(nil), data...)
	for off := len(pngSignature); off+12 <= len(d); {
		n := binary.BigEndian.Uint32(d[off:])
		if int64(n) > int64(len(d)-off-12) {
			break
		}
		end := off + 8 + int(n)
		binary.BigEndian.PutUint32(d[end:], crc32.ChecksumIEEE(d[off+4:end]))
		off = end + 4
	}
	return d
}

func benchmarkCover(b *testing.B) (file []byte, clean, noised *Image, img image.Image) {
	file, clean, img = pngLoadCover(b)
	return file, clean, pngNoised(clean), img
}

func BenchmarkEncodePNG(b *testing.B) {
	file, clean, noised, _ := benchmarkCover(b)
	// With no layout the rows get libpng's adaptive filter choice; with
	// the cover file's own layout, its recorded filters.
	m, err := Decode(file, pngTestMaxPixels)
	if err != nil {
		b.Fatal(err)
	}
	withLayout := func(r *Image) *Image { c := *r; c.Layout = m.Layout; return &c }
	for _, c := range []struct {
		name string
		r    *Image
	}{{"clean", clean}, {"noised", noised}, {"clean-cover-layout", withLayout(clean)}, {"noised-cover-layout", withLayout(noised)}} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(c.r.Pix)))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := Encode(&buf, c.r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "out-bytes")
		})
	}
}

func BenchmarkEncodePNGStdlib(b *testing.B) {
	_, clean, noised, img := benchmarkCover(b)
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"clean", img}, {"noised", noised.Std()}} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(clean.Pix)))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := png.Encode(&buf, c.img); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "out-bytes")
		})
	}
}

// The decode benchmarks read the cover file as shipped (written by an
// adaptive-filter encoder) and our own encoding of the noised cover.
func pngDecodeInputs(b *testing.B) (inputs []struct {
	name string
	data []byte
}, rawSize int) {
	file, clean, noised, _ := benchmarkCover(b)
	var buf bytes.Buffer
	if err := Encode(&buf, noised); err != nil {
		b.Fatal(err)
	}
	inputs = append(inputs, struct {
		name string
		data []byte
	}{"cover-file", file}, struct {
		name string
		data []byte
	}{"ours-noised", buf.Bytes()})
	return inputs, len(clean.Pix)
}

func BenchmarkDecodePNG(b *testing.B) {
	inputs, raw := pngDecodeInputs(b)
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(raw))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(in.data, pngTestMaxPixels); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(in.data)), "in-bytes")
		})
	}
}

func BenchmarkDecodePNGStdlib(b *testing.B) {
	inputs, raw := pngDecodeInputs(b)
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(raw))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := png.Decode(bytes.NewReader(in.data)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(in.data)), "in-bytes")
		})
	}
}
