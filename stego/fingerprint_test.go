package stego

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	stdpng "image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/stego/internal/png"
)

// pngFileChunk is one chunk of a PNG file as the tests see it.
type pngFileChunk struct {
	typ  string
	data []byte
}

// pngFileChunks splits a PNG file into its chunks (CRCs are checked by
// the decoders the tests also run).
func pngFileChunks(t *testing.T, data []byte) []pngFileChunk {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("no PNG signature")
	}
	var cs []pngFileChunk
	for off := 8; off < len(data); {
		if len(data)-off < 12 {
			t.Fatalf("truncated chunk at %d", off)
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		cs = append(cs, pngFileChunk{string(data[off+4 : off+8]), data[off+8 : off+8+n]})
		off += 12 + n
	}
	return cs
}

// pngStructure describes a file's structure: its chunk sequence with each
// run of IDATs as one "IDAT" (the number of IDATs follows from the size
// of the compressed data, which is ours), the size of every IDAT but the
// last, and the zlib header.
func pngStructure(t *testing.T, data []byte) (seq []pngFileChunk, idatSizes []int, zlibHeader []byte) {
	t.Helper()
	for _, c := range pngFileChunks(t, data) {
		if c.typ == "IDAT" {
			if len(idatSizes) == 0 {
				seq = append(seq, pngFileChunk{typ: "IDAT"})
				zlibHeader = c.data[:2]
			}
			idatSizes = append(idatSizes, len(c.data))
			continue
		}
		seq = append(seq, c)
	}
	return seq, idatSizes[:len(idatSizes)-1], zlibHeader
}

// TestNoFormatFingerprint hides into covers written by several encoders
// and checks that the stego PNG has the cover's structure: the same
// chunks in the same order with the ancillary ones byte for byte, IDAT
// chunks of the same size, the same zlib header, and each row filtered
// as the cover's was. A JPEG cover gives libpng's defaults. Every output
// must still give back its secret and decode with image/png to the
// pixels we wrote.
func TestNoFormatFingerprint(t *testing.T) {
	dir := filepath.Join("testdata", "fingerprint")
	for _, c := range []struct {
		name, path string
		wantIDAT   int // cover's IDAT size; 0 for one IDAT
	}{
		{"libpng-imagemagick", filepath.Join(dir, "libpng-imagemagick.png"), 32768},
		{"libpng-imagemagick-gray", filepath.Join(dir, "libpng-imagemagick-gray.png"), 0},
		{"libpng-imagemagick-rgba", filepath.Join(dir, "libpng-imagemagick-rgba.png"), 32768},
		{"libpng-imagemagick-16bit", filepath.Join(dir, "libpng-imagemagick-16bit.png"), 32768},
		{"go-imagepng", filepath.Join(dir, "go-imagepng.png"), 32768},
		{"go-imagepng-large", testenv.CoverPath(t, testenv.CoverLargePNG), 32768},
		{"pillow-rgb", filepath.Join(dir, "pillow-rgb.png"), 65536},
		{"pillow-rgba", filepath.Join(dir, "pillow-rgba.png"), 65536},
		{"pillow-gray", filepath.Join(dir, "pillow-gray.png"), 0},
		{"optipng", filepath.Join(dir, "optipng.png"), 0},
		{"jpeg", filepath.Join(dir, "photo.jpg"), 8192},
	} {
		t.Run(c.name, func(t *testing.T) {
			coverFile, err := os.ReadFile(c.path)
			if err != nil {
				t.Fatal(err)
			}
			cover, err := Decode(coverFile, 0)
			if err != nil {
				t.Fatal(err)
			}
			secret := Secret{Name: "s.bin", Data: testenv.RandomBytes(1000, 7)}
			ctx := context.Background()
			stegoImg, _, err := Embed(ctx, cover, secret, Options{Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := stegoImg.Encode(&buf, PNG); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()

			seq, sizes, zh := pngStructure(t, out)
			outM, err := png.Decode(out, DefaultMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			if cover.SourceFormat == "png" {
				wantSeq, wantSizes, wantZH := pngStructure(t, coverFile)
				if !slices.EqualFunc(seq, wantSeq, func(a, b pngFileChunk) bool { return a.typ == b.typ && bytes.Equal(a.data, b.data) }) {
					t.Errorf("chunks %v, cover's %v", chunkTypes(seq), chunkTypes(wantSeq))
				}
				if len(wantSizes) > 0 && wantSizes[0] != c.wantIDAT || len(wantSizes) == 0 && c.wantIDAT != 0 {
					t.Fatalf("test table: cover's IDATs are %v", wantSizes)
				}
				if !bytes.Equal(zh, wantZH) {
					t.Errorf("zlib header % x, cover's % x", zh, wantZH)
				}
				coverM, err := png.Decode(coverFile, DefaultMaxPixels)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(outM.Layout.Filters, coverM.Layout.Filters) {
					t.Error("rows filtered differently from the cover")
				}
			} else {
				if got := chunkTypes(seq); !slices.Equal(got, []string{"IHDR", "IDAT", "IEND"}) {
					t.Errorf("chunks %v, want libpng's IHDR IDAT IEND", got)
				}
				if !bytes.Equal(zh, []byte{0x78, 0x9c}) {
					t.Errorf("zlib header % x, want libpng's 78 9c", zh)
				}
				if !bytes.Equal(outM.Layout.Filters, png.LibpngFilters(outM)) {
					t.Error("rows not filtered as libpng's adaptive choice would")
				}
			}
			for i, n := range sizes {
				if n != c.wantIDAT {
					t.Fatalf("IDAT %d holds %d bytes, want %d (all: %v)", i, n, c.wantIDAT, sizes)
				}
			}

			// The secret comes back, and image/png reads what we wrote.
			back, err := Decode(out, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Extract(ctx, back, Options{Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, secret.Data) {
				t.Error("secret changed")
			}
			std, err := stdpng.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("image/png: %v", err)
			}
			if !samePixels(std, stegoImg.Image()) {
				t.Error("image/png decodes other pixels")
			}
		})
	}
}

func chunkTypes(cs []pngFileChunk) []string {
	var ts []string
	for _, c := range cs {
		ts = append(ts, c.typ)
	}
	return ts
}

// samePixels compares two images colour by colour at 16 bits.
func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}
