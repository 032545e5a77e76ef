package png

import (
	"bytes"
	"hash/adler32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The covers of stego/testdata/fingerprint (see its README).
func pngFingerprintCover(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fingerprint", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPNGAdaptiveFilterMatchesLibpng checks the port of libpng's
// adaptive filter choice against files libpng wrote with every filter
// allowed: for each row, pngChooseFilter on the file's own pixels must
// pick the filter libpng picked. Encoding the pixels with no layout
// (libpng's defaults) must then give the same filter types.
func TestPNGAdaptiveFilterMatchesLibpng(t *testing.T) {
	for _, name := range []string{"libpng-imagemagick.png", "libpng-imagemagick-gray.png", "libpng-imagemagick-rgba.png", "libpng-imagemagick-16bit.png"} {
		t.Run(name, func(t *testing.T) {
			m, err := Decode(pngFingerprintCover(t, name), pngTestMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			rs, bpp := m.rowStride(), m.pixelStride()
			zero := make([]byte, rs)
			counts := [5]int{}
			for y := range m.Height {
				prev := zero
				if y > 0 {
					prev = m.Pix[(y-1)*rs : y*rs]
				}
				got := pngChooseFilter(make([]byte, rs), m.Pix[y*rs:(y+1)*rs], prev, bpp)
				if want := m.Layout.Filters[y]; got != want {
					t.Errorf("row %d: chose filter %d, libpng %d", y, got, want)
				}
				counts[got]++
			}
			t.Logf("filters None..Paeth: %v", counts)

			plain := *m
			plain.Layout = nil
			var buf bytes.Buffer
			if err := Encode(&buf, &plain); err != nil {
				t.Fatal(err)
			}
			again, err := Decode(buf.Bytes(), pngTestMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Layout.Filters, m.Layout.Filters) {
				t.Error("encoding with libpng's defaults filtered rows differently from libpng")
			}
			if !bytes.Equal(again.Pix, m.Pix) {
				t.Error("pixels changed")
			}
		})
	}
}

// TestPNGPaethLanes checks the eight-at-a-time Paeth residuals, and
// those pngChooseFilter leaves behind, against the scalar predictor on
// every (a, b, c) and pseudo-random x.
func TestPNGPaethLanes(t *testing.T) {
	const n = 256 * 256 * 256
	x, a, b, c := make([]byte, n), make([]byte, n), make([]byte, n), make([]byte, n)
	for i := range n {
		a[i], b[i], c[i] = byte(i), byte(i>>8), byte(i>>16)
		x[i] = byte(uint32(i)*2654435761>>13) ^ byte(i>>5)
	}
	d := make([]byte, n)
	pngPaethResiduals(d, x, a, b, c)
	for i := range n {
		if r := x[i] - pngPaeth(a[i], b[i], c[i]); d[i] != r {
			t.Fatalf("a=%d b=%d c=%d x=%d: residual %d, want %d", a[i], b[i], c[i], x[i], d[i], r)
		}
	}
	// Rows of 3-byte pixels: cur = (a-row shifted), prev = b/c.
	const w = 3 * 1001
	cur, prev, res := make([]byte, w), make([]byte, w), make([]byte, w)
	for off := 0; off+w <= n; off += 977 * w {
		copy(cur, x[off:off+w])
		copy(prev, b[off:off+w])
		pngChooseFilter(res, cur, prev, 3)
		for i := range w {
			var want byte
			if i < 3 {
				want = cur[i] - prev[i]
			} else {
				want = cur[i] - pngPaeth(cur[i-3], prev[i], prev[i-3])
			}
			if res[i] != want {
				t.Fatalf("row at %d, byte %d: Paeth residual %d, want %d", off, i, res[i], want)
			}
		}
	}
}

// TestPNGOwnBandsDecodeInParallel checks that our output, now cut into
// IDATs at the layout's size rather than at band ends, still takes the
// parallel path, and that a Go-written file (whose stream ends with an
// empty stored block, the same bytes as a sync flush) does not.
func TestPNGOwnBandsDecodeInParallel(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("the parallel path needs two threads")
	}
	file, clean, _ := pngLoadCover(t)
	var buf bytes.Buffer
	if err := Encode(&buf, clean); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{{"ours", buf.Bytes(), true}, {"image/png", file, false}} {
		t.Run(c.name, func(t *testing.T) {
			rs := clean.rowStride()
			out := make([]byte, clean.Height*(rs+1))
			if got := pngDecodeBands(pngTestStream(t, c.data), out, rs, clean.pixelStride(), nil); got != c.want {
				t.Fatalf("parallel path taken: %v, want %v", got, c.want)
			}
			if c.want && !bytes.Equal(out[:len(clean.Pix)], clean.Pix) {
				t.Fatal("parallel path decoded other pixels")
			}
		})
	}
}

// pngTestStream returns the stream of a PNG's IDAT chunks.
func pngTestStream(t *testing.T, data []byte) idatStream {
	t.Helper()
	for off := len(pngSignature); off < len(data); {
		c, next, err := pngNextChunk(data, off)
		if err != nil {
			t.Fatal(err)
		}
		if c.typ == "IDAT" {
			return pngIDATStream(data, off)
		}
		off = next
	}
	t.Fatal("no IDAT chunk")
	return idatStream{}
}

// TestPNGAbsLanes checks the eight-byte cost sum against pngAbs8.
func TestPNGAbsLanes(t *testing.T) {
	for v := range 256 {
		for _, other := range []uint64{0, 0x80, 0x7f, 0xff, 0x01} {
			w := uint64(v)*0x0101010101010101 ^ other<<uint(8*(v%8))
			var want uint
			for k := range 8 {
				want += pngAbs8(uint8(w >> (8 * k)))
			}
			if got := pngFoldLanes(pngAbsLanes(w)); got != want {
				t.Fatalf("%#x: %d, want %d", w, got, want)
			}
		}
	}
}

// TestPNGEncodeIDATSizes writes a many-band image with one IDAT and with
// IDATs of odd sizes and checks the chunking and the pixels.
func TestPNGEncodeIDATSizes(t *testing.T) {
	_, clean, _ := pngLoadCover(t)
	for _, size := range []int{0, 1000, 8192} {
		m := *clean
		l := *libpngLayout(clean, pngColorRGB, 8)
		l.IDATSize = size
		m.Layout = &l
		var buf bytes.Buffer
		if err := Encode(&buf, &m); err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for off := len(pngSignature); off < buf.Len(); {
			c, next, err := pngNextChunk(buf.Bytes(), off)
			if err != nil {
				t.Fatal(err)
			}
			if c.typ == "IDAT" {
				sizes = append(sizes, len(c.data))
			}
			off = next
		}
		if size == 0 && len(sizes) != 1 {
			t.Errorf("size 0: %d IDATs", len(sizes))
		}
		for i, n := range sizes[:len(sizes)-1] {
			if n != size {
				t.Fatalf("size %d: IDAT %d holds %d", size, i, n)
			}
		}
		back, err := Decode(buf.Bytes(), pngTestMaxPixels)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Pix, clean.Pix) || back.Layout.IDATSize != size {
			t.Errorf("size %d: round trip gave other pixels or IDAT size %d", size, back.Layout.IDATSize)
		}
	}
}

// TestPNGLayoutKeepsAndDrops checks which ancillary chunks a layout
// carries: known colour and metadata chunks, a truecolour image's
// suggested palette and unknown safe-to-copy chunks are kept in place;
// sBIT and unknown chunks that are not safe to copy are dropped.
func TestPNGLayoutKeepsAndDrops(t *testing.T) {
	data := pngFingerprintCover(t, "libpng-imagemagick.png")
	for _, c := range [][]byte{
		pngTestChunk("PLTE", []byte{1, 2, 3, 4, 5, 6}),
		pngTestChunk("sBIT", []byte{7, 7, 7}),
		pngTestChunk("prVt", []byte("kept")),    // ancillary, safe to copy
		pngTestChunk("prVT", []byte("dropped")), // ancillary, unsafe to copy
		pngTestChunk("sRGB", []byte{0}),
	} {
		data = pngSplice(data, c)
	}
	m, err := Decode(data, pngTestMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for off := len(pngSignature); off < buf.Len(); {
		c, next, err := pngNextChunk(buf.Bytes(), off)
		if err != nil {
			t.Fatal(err)
		}
		if c.typ != "IDAT" || got[len(got)-1] != "IDAT" {
			got = append(got, c.typ)
		}
		off = next
	}
	want := []string{"IHDR", "gAMA", "cHRM", "bKGD", "tIME", "PLTE", "prVt", "sRGB", "IDAT", "tEXt", "tEXt", "IEND"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chunks %v, want %v", got, want)
	}
}

// TestPNGAdler32 checks the eight-byte adler32 against hash/adler32.
func TestPNGAdler32(t *testing.T) {
	data := make([]byte, 3<<20+13)
	for i := range data {
		data[i] = byte(uint32(i)*2654435761>>11) | byte(i>>7)
	}
	for i := range 1 << 16 { // a long run of 0xff, the worst case for the sums
		data[i] = 0xff
	}
	for _, n := range []int{0, 1, 7, 8, 9, 5552, 1 << 20, 1<<20 + 5, len(data)} {
		if got, want := pngAdler32(1, data[:n]), adler32.Checksum(data[:n]); got != want {
			t.Errorf("%d bytes: %#x, want %#x", n, got, want)
		}
		// Continued from a checksum, as the unfilterer does.
		if got, want := pngAdler32(pngAdler32(1, data[:n/3]), data[n/3:n]), adler32.Checksum(data[:n]); got != want {
			t.Errorf("%d bytes in two calls: %#x, want %#x", n, got, want)
		}
	}
}
