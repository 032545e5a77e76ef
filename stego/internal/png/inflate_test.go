package png

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

func deflateWith(tb testing.TB, data []byte, level int, klauspost bool) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	if klauspost {
		w, err = kflate.NewWriter(&buf, level)
	} else {
		w, err = flate.NewWriter(&buf, level)
	}
	if err != nil {
		tb.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func inflateCorpus(tb testing.TB) map[string][]byte {
	photo := testenv.Cover(tb, testenv.CoverSmallPNG)
	img, err := Decode(photo, pngTestMaxPixels)
	if err != nil {
		tb.Fatal(err)
	}
	return map[string][]byte{
		"empty":  nil,
		"one":    {42},
		"zeros":  make([]byte, 100000),
		"random": testenv.RandomBytes(70000, 3),
		"text":   bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog. "), 3000),
		"photo":  img.Pix[:300000],
	}
}

func TestInflateMatchesReference(t *testing.T) {
	var f inflater
	for name, data := range inflateCorpus(t) {
		for _, c := range []struct {
			level     int
			klauspost bool
		}{{kflate.HuffmanOnly, true}, {1, true}, {5, true}, {9, true}, {0, false}, {1, false}, {6, false}, {9, false}, {flate.HuffmanOnly, false}} {
			z := deflateWith(t, data, c.level, c.klauspost)
			z = append(z, 1, 2, 3, 4) // what follows the stream must come back as rest
			out := make([]byte, len(data))
			n, rest, err := f.inflate(out, z, true)
			if err != nil || n != len(data) || !bytes.Equal(out[:n], data) || !bytes.Equal(rest, []byte{1, 2, 3, 4}) {
				t.Fatalf("%s level %d klauspost=%t: n=%d/%d err=%v rest=%v", name, c.level, c.klauspost, n, len(data), err, rest)
			}
			if len(data) > 0 {
				if _, _, err := f.inflate(make([]byte, len(data)-1), z, true); err == nil {
					t.Fatalf("%s: output one byte short of the stream was not refused", name)
				}
				if _, _, err := f.inflate(out, z[:len(z)-5-len(z)/3], true); err == nil {
					t.Fatalf("%s: truncated stream accepted", name)
				}
			}
		}
	}
}

// A sync-flushed segment decodes on its own when it does not refer back
// to earlier data; with requireFinal false it ends cleanly at its end.
func TestInflateSyncFlushedBands(t *testing.T) {
	data := testenv.RandomBytes(50000, 9)
	var buf bytes.Buffer
	w, _ := kflate.NewWriter(&buf, kflate.HuffmanOnly)
	w.Write(data[:20000])
	w.Flush()
	cut := buf.Len()
	w.Write(data[20000:])
	w.Close()
	z := buf.Bytes()
	var f inflater
	out := make([]byte, len(data))
	n, _, err := f.inflate(out, z[:cut], false)
	if err != nil || n != 20000 || !bytes.Equal(out[:n], data[:20000]) {
		t.Fatalf("first band: n=%d err=%v", n, err)
	}
	if _, _, err := f.inflate(out, z[:cut], true); err == nil {
		t.Fatal("a band without a final block passed as a whole stream")
	}
	n, rest, err := f.inflate(out, z[cut:], true)
	if err != nil || n != 30000 || !bytes.Equal(out[:n], data[20000:]) || len(rest) != 0 {
		t.Fatalf("last band: n=%d err=%v rest=%d", n, err, len(rest))
	}
}

// FuzzInflate: whatever the standard library's decoder accepts, ours
// decodes to the same bytes; ours never panics or overruns its buffer.
// (The standard library is the reference because it is strict like zlib;
// klauspost's decoder accepts some streams zlib rejects, see the seed
// corpus.)
func FuzzInflate(f *testing.F) {
	for _, data := range inflateCorpus(f) {
		if len(data) > 5000 {
			data = data[:5000]
		}
		f.Add(deflateWith(f, data, 5, true))
		f.Add(deflateWith(f, data, kflate.HuffmanOnly, true))
		f.Add(deflateWith(f, data, 1, false))
	}
	f.Fuzz(func(t *testing.T, z []byte) {
		want, refErr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), 1<<20))
		var inf inflater
		out := make([]byte, 1<<20)
		n, _, err := inf.inflate(out, z, true)
		if refErr == nil && len(want) < 1<<20 {
			if err != nil || !bytes.Equal(out[:n], want) {
				t.Fatalf("reference decoded %d bytes, we got %d (err %v)", len(want), n, err)
			}
		}
	})
}

func BenchmarkInflatePhoto(b *testing.B) {
	img, err := Decode(testenv.Cover(b, testenv.CoverLargePNG), pngTestMaxPixels)
	if err != nil {
		b.Fatal(err)
	}
	z := deflateWith(b, img.Pix, 6, false)
	out := make([]byte, len(img.Pix))
	b.Run("ours", func(b *testing.B) {
		var f inflater
		b.SetBytes(int64(len(out)))
		for b.Loop() {
			if _, _, err := f.inflate(out, z, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(out)))
		for b.Loop() {
			r := kflate.NewReader(bytes.NewReader(z))
			if _, err := io.ReadFull(r, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
