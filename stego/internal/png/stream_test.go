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

// pngTestStdFile is r encoded by image/png at level, and the zlib stream
// its IDAT chunks hold.
func pngTestStdFile(t *testing.T, r *Image, level png.CompressionLevel) (file, z []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: level}).Encode(&buf, r.Std()); err != nil {
		t.Fatal(err)
	}
	stream := pngTestStream(t, buf.Bytes())
	z = make([]byte, stream.len())
	stream.copyTo(z, 0)
	return buf.Bytes(), z
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
// and stored blocks only) cut into chunks as small as a byte, on the
// sequential path and the pipelined one, and checks that what follows the
// stream is still judged across chunks: straight from the chunks
// (pngDecodeIDAT), and as files through Decode, which joins chunks this
// small (pngJoinIDAT) but for 8 KiB ones.
func TestPNGDecodeAcrossChunks(t *testing.T) {
	for _, size := range []struct{ w, h int }{{97, 31}, {400, 300}} { // under and over pngPipelineMin
		for _, level := range []png.CompressionLevel{png.DefaultCompression, png.NoCompression} {
			r := pngTestRaster(testenv.Shape{Channels: 3}, size.w, size.h, "smooth", 3)
			std, z := pngTestStdFile(t, r, level)
			rs := r.rowStride()
			for _, sizes := range [][]int{{1}, {2, 3}, {7, 1, 13, 2, 5}, {8192}} {
				t.Run(fmt.Sprintf("%dx%d/level%d/%v", size.w, size.h, level, sizes), func(t *testing.T) {
					out := make([]byte, size.h*(rs+1))
					if err := pngDecodeIDAT(pngTestSplit(z, sizes), out, rs, r.pixelStride(), &Layout{}); err != nil {
						t.Fatalf("from the chunks: %v", err)
					}
					if !bytes.Equal(out[:len(r.Pix)], r.Pix) {
						t.Fatal("from the chunks: other pixels")
					}
					file := pngTestRechunk(std, z, sizes)
					pngCheckBoth(t, file, r)
					joined := len(pngIDATStream(file, len(pngSignature)+25).segs) == 1
					if wantJoined := sizes[0] < pngSegmentBytes; joined != wantJoined && len(z) > sizes[0] {
						t.Fatalf("Decode joined the chunks: %v, want %v", joined, wantJoined)
					}
					for _, c := range []struct {
						z    []byte
						want string
					}{
						{z[:len(z)-1], "missing zlib checksum"},
						{append(slices.Clip(z), 0), "data after the end"},
					} {
						err := pngDecodeIDAT(pngTestSplit(c.z, sizes), make([]byte, size.h*(rs+1)), rs, r.pixelStride(), &Layout{})
						if err == nil || !strings.Contains(err.Error(), c.want) {
							t.Fatalf("from the chunks: got %v, want an error saying %q", err, c.want)
						}
						_, err = Decode(pngTestRechunk(std, c.z, sizes), pngTestMaxPixels)
						if err == nil || !strings.Contains(err.Error(), c.want) {
							t.Fatalf("got %v, want an error saying %q", err, c.want)
						}
					}
				})
			}
		}
	}
}

// TestPNGTinyChunks: a file whose stream is cut into tiny IDAT chunks
// (13 bytes of file for a 1-byte chunk) decodes with memory bounded by
// the pixels and StreamCost, which a caller budgets, and StreamCost is
// at most the stream's size. Reading the chunks in place kept 32 bytes
// per chunk whatever their size (170 MB for the 13 MB file of 1-byte
// chunks), and naming each chunk's type allocated a string (4 MB).
func TestPNGTinyChunks(t *testing.T) {
	r := pngTestRaster(testenv.Shape{Channels: 1}, 1000, 1000, "noise", 1)
	std, z := pngTestStdFile(t, r, png.BestSpeed)
	for _, c := range []struct {
		size   int
		joined bool
	}{{1, true}, {16, true}, {31, true}, {33, false}, {8192, false}} {
		t.Run(fmt.Sprint(c.size), func(t *testing.T) {
			file := pngTestRechunk(std, z, []int{c.size})
			pngCheckBoth(t, file, r)
			chunks := (len(z) + c.size - 1) / c.size
			cost := StreamCost(file)
			if want := int64(chunks * pngSegmentBytes); c.joined {
				if cost != int64(len(z)) {
					t.Fatalf("StreamCost %d, want the stream's %d bytes (joined)", cost, len(z))
				}
			} else if cost != want {
				t.Fatalf("StreamCost %d, want %d (%d segments)", cost, want, chunks)
			}
			got := pngDecodeAllocates(t, file)
			bound := uint64(r.Height*(r.rowStride()+1)) + uint64(cost) + 256<<10 // the pixels, the stream's cost, and change
			t.Logf("%d-byte file, %d chunks: StreamCost %d, Decode allocated %d bytes (bound %d)", len(file), chunks, cost, got, bound)
			if got > bound {
				t.Fatalf("Decode allocated %d bytes, want at most %d", got, bound)
			}
		})
	}
	if got := StreamCost([]byte("GIF89a")); got != 0 {
		t.Fatalf("StreamCost of a GIF: %d, want 0", got)
	}
}

// TestPNGManyMarkers: a valid stream that begins with a million empty
// stored blocks (each holds the sync-flush marker) decodes sequentially
// without the parallel path listing every marker as a band: Encode's
// bands are at least half pngBandBytes, which bounds how many there are.
// On one CPU the parallel path is not tried, and the bound holds too.
func TestPNGManyMarkers(t *testing.T) {
	r := pngTestRaster(testenv.Shape{Channels: 1}, 1000, 1000, "smooth", 2)
	std, orig := pngTestStdFile(t, r, png.BestSpeed)
	// The zlib header, the empty stored blocks, then the original deflate
	// data and checksum, which do not depend on block boundaries.
	z := append([]byte(nil), orig[:2]...)
	for range 1_000_000 {
		z = append(z, 0, 0, 0, 0xff, 0xff) // BFINAL 0, BTYPE 00, padding; LEN 0, NLEN 0xffff
	}
	z = append(z, orig[2:]...)
	file := pngTestRechunk(std, z, []int{64 << 10})
	pngCheckBoth(t, file, r)
	got := pngDecodeAllocates(t, file)
	bound := uint64(r.Height*(r.rowStride()+1)) + 256<<10 // the pixels, and change
	t.Logf("%d-byte stream, a million markers: Decode allocated %d bytes (bound %d)", len(z), got, bound)
	if got > bound {
		t.Fatalf("Decode allocated %d bytes, want at most %d", got, bound)
	}
}

// pngDecodeAllocates is what decoding file allocates (the runtime's count,
// an upper bound on what is live at once).
func pngDecodeAllocates(t *testing.T, file []byte) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Decode(file, pngTestMaxPixels); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
