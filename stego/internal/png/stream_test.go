package png

import (
	"bytes"
	"fmt"
	"image/png"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// pngTestSplit cuts z into segments of the given sizes, cycled; the last
// takes what is left.
func pngTestSplit(z []byte, sizes []int) idatStream {
	var s idatStream
	n := 0
	for i := 0; n < len(z); i++ {
		l := min(sizes[i%len(sizes)], len(z)-n)
		s.segs = append(s.segs, z[n:n+l])
		n += l
		s.ends = append(s.ends, n)
	}
	return s
}

// TestIDATStream checks the chunked stream against the same bytes in one
// piece: every byte, every slice, and every sync-flush marker found,
// including those that span two, three or four chunks.
func TestIDATStream(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	z := make([]byte, 600)
	for i := range z {
		z[i] = byte(rnd.Intn(3)) * 0x7f // 00, 7f, fe: no marker by chance
	}
	for _, at := range []int{0, 5, 9, 30, 31, 32, 33, 100, 250, 596} {
		copy(z[at:], pngSyncFlush)
	}
	var want []int
	for p := 0; ; {
		i := bytes.Index(z[p:], []byte(pngSyncFlush))
		if i < 0 {
			break
		}
		want = append(want, p+i)
		p += i + len(pngSyncFlush)
	}
	for _, c := range []struct {
		name  string
		sizes []int
	}{
		{"one chunk", []int{len(z)}},
		{"1-byte chunks", []int{1}},
		{"2 and 3", []int{2, 3}},
		{"odd sizes", []int{7, 1, 13, 2, 5}},
		{"32 bytes", []int{32}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := pngTestSplit(z, c.sizes)
			if s.len() != len(z) {
				t.Fatalf("len %d, want %d", s.len(), len(z))
			}
			for i := range z {
				if s.at(i) != z[i] {
					t.Fatalf("at(%d) = %#x, want %#x", i, s.at(i), z[i])
				}
			}
			var scratch []byte
			for _, r := range [][2]int{{0, 1}, {0, 40}, {3, 4}, {30, 34}, {31, 333}, {0, len(z)}, {599, 600}} {
				if got := s.slice(r[0], r[1], &scratch); !bytes.Equal(got, z[r[0]:r[1]]) {
					t.Fatalf("slice(%d, %d) = %x, want %x", r[0], r[1], got, z[r[0]:r[1]])
				}
			}
			all := make([]byte, len(z))
			s.copyTo(all, 0)
			if !bytes.Equal(all, z) {
				t.Fatal("copyTo differs")
			}
			var got []int
			for p := 0; ; {
				i := s.index(pngSyncFlush, p)
				if i < 0 {
					break
				}
				got = append(got, i)
				p = i + len(pngSyncFlush)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("markers at %v, want %v", got, want)
			}
		})
	}
}

// TestPNGOwnBandsAcrossChunks: our stream cut into IDAT chunks of sizes
// that put sync flushes across chunk boundaries still decodes in
// parallel, to the same pixels, without joining the chunks.
func TestPNGOwnBandsAcrossChunks(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("the parallel path needs two threads")
	}
	_, clean, _ := pngLoadCover(t)
	var buf bytes.Buffer
	if err := Encode(&buf, clean); err != nil {
		t.Fatal(err)
	}
	stream := pngTestStream(t, buf.Bytes())
	z := make([]byte, stream.len())
	stream.copyTo(z, 0)
	rs := clean.rowStride()
	for _, sizes := range [][]int{{1, 2, 3}, {8192}, {4093, 1}} {
		s := pngTestSplit(z, sizes)
		out := make([]byte, clean.Height*(rs+1))
		if !pngDecodeBands(s, out, rs, clean.pixelStride(), nil) {
			t.Fatalf("chunks of %v: parallel path not taken", sizes)
		}
		if !bytes.Equal(out[:len(clean.Pix)], clean.Pix) {
			t.Fatalf("chunks of %v: other pixels", sizes)
		}
		// The same as a file, through Decode.
		file := append([]byte(nil), buf.Bytes()[:len(pngSignature)+25]...) // signature, IHDR
		for _, seg := range s.segs {
			file = append(file, pngTestChunk("IDAT", seg)...)
		}
		file = append(file, pngTestChunk("IEND", nil)...)
		pngCheckBoth(t, file, clean)
	}
}

// pngTestRechunk rewrites a PNG whose IDAT chunks follow IHDR directly
// (image/png's output for truecolour) with the zlib stream z cut into
// IDAT chunks of the given sizes.
func pngTestRechunk(data, z []byte, sizes []int) []byte {
	out := append([]byte(nil), data[:len(pngSignature)+25]...) // signature, IHDR
	for _, seg := range pngTestSplit(z, sizes).segs {
		out = append(out, pngTestChunk("IDAT", seg)...)
	}
	return append(out, pngTestChunk("IEND", nil)...)
}

// TestPNGDecodeAcrossChunks decodes other encoders' streams (compressed,
// and stored blocks only) cut into IDAT chunks as small as a byte, on the
// sequential path and the pipelined one, and checks that what follows the
// stream is still judged across chunks.
func TestPNGDecodeAcrossChunks(t *testing.T) {
	for _, size := range []struct{ w, h int }{{97, 31}, {400, 300}} { // under and over pngPipelineMin
		for _, level := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression} {
			r := pngTestRaster(testenv.Shape{Channels: 3}, size.w, size.h, "smooth", 3)
			var buf bytes.Buffer
			if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, r.Std()); err != nil {
				t.Fatal(err)
			}
			stream := pngTestStream(t, buf.Bytes())
			z := make([]byte, stream.len())
			stream.copyTo(z, 0)
			for _, sizes := range [][]int{{1}, {2, 3}, {7, 1, 13, 2, 5}, {8192}} {
				t.Run(fmt.Sprintf("%dx%d/level%d/%v", size.w, size.h, level, sizes), func(t *testing.T) {
					pngCheckBoth(t, pngTestRechunk(buf.Bytes(), z, sizes), r)
					for _, c := range []struct {
						z    []byte
						want string
					}{
						{z[:len(z)-1], "missing zlib checksum"},
						{append(slices.Clip(z), 0), "data after the end"},
					} {
						_, err := Decode(pngTestRechunk(buf.Bytes(), c.z, sizes), pngTestMaxPixels)
						if err == nil || !strings.Contains(err.Error(), c.want) {
							t.Fatalf("got %v, want an error saying %q", err, c.want)
						}
					}
				})
			}
		}
	}
}
