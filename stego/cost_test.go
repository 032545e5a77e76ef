package stego

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/image/tiff"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// paddedPNG is a valid 1×1 gray PNG whose zlib stream begins with 200,000
// empty stored blocks, cut into IDAT chunks of chunkSize bytes.
func paddedPNG(t *testing.T, chunkSize int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	// image/png writes IHDR, one IDAT, IEND.
	const idat = 8 + 25
	n := int(binary.BigEndian.Uint32(data[idat:]))
	orig := data[idat+8 : idat+8+n]
	z := append([]byte(nil), orig[:2]...) // the zlib header
	for range 200_000 {
		z = append(z, 0, 0, 0, 0xff, 0xff) // an empty stored block
	}
	z = append(z, orig[2:]...)
	chunk := func(typ string, p []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(p)))
		c = append(append(c, typ...), p...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	}
	out := append([]byte(nil), data[:idat]...)
	for ; len(z) > 0; z = z[min(chunkSize, len(z)):] {
		out = append(out, chunk("IDAT", z[:min(chunkSize, len(z))])...)
	}
	return append(out, chunk("IEND", nil)...)
}

// DecodeCost is an upper bound on what Decode allocates, for every kind
// of cover: the budget reserved before decoding must cover the decoding.
func TestDecodeCostBoundsDecode(t *testing.T) {
	const w, h = 600, 400
	encode := func(enc func(*bytes.Buffer, image.Image) error, m image.Image) []byte {
		var buf bytes.Buffer
		if err := enc(&buf, m); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	pngEnc := func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for i := range nrgba.Pix {
		nrgba.Pix[i] = byte(i * 7)
	}
	for i := range nrgba64.Pix {
		nrgba64.Pix[i] = byte(i * 13)
	}
	for i := range gray.Pix {
		gray.Pix[i] = byte(i * 3)
	}
	noise := image.NewNRGBA(image.Rect(0, 0, w, h))
	copy(noise.Pix, testenv.RandomBytes(len(noise.Pix), 3))
	paletted := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 128}})
	tests := []struct {
		name string
		data []byte
	}{
		{"png rgba8", encode(pngEnc, nrgba)},
		{"png rgba8 noise", encode(pngEnc, noise)},
		{"png rgba16", encode(pngEnc, nrgba64)},
		{"png gray8", encode(pngEnc, gray)},
		{"png paletted", encode(pngEnc, paletted)},
		{"gif", encode(func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }, paletted)},
		{"jpeg", encode(func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }, nrgba)},
		// A 1×1 image whose stream carries a megabyte of empty stored
		// blocks, in chunks small enough to be joined and in chunks
		// kept in place: memory the pixels do not predict.
		// image/png decodes a gray image with a transparency key to
		// NRGBA, though its header reports gray.
		{"png gray8 with a tRNS key", withChunkAfterIHDR(t, encode(pngEnc, gray), "tRNS", []byte{0, 7})},
		{"tiff gray8 deflate", encode(func(b *bytes.Buffer, m image.Image) error {
			return tiff.Encode(b, m, &tiff.Options{Compression: tiff.Deflate})
		}, gray)},
		{"tiff rgba8 deflate", encode(func(b *bytes.Buffer, m image.Image) error {
			return tiff.Encode(b, m, &tiff.Options{Compression: tiff.Deflate})
		}, noise)},
		{"jpeg progressive", readTestdata(t, "covers/street-640x426-progressive.jpg")},
		{"png 1x1, 1 MB stream in 8-byte chunks", paddedPNG(t, 8)},
		{"png 1x1, 1 MB stream in 40-byte chunks", paddedPNG(t, 40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cost, err := DecodeCost(tt.data, 0)
			if err != nil {
				t.Fatal(err)
			}
			var m *Image
			used := int64(allocatedBy(func() { m, err = Decode(tt.data, 0) }))
			if err != nil {
				t.Fatal(err)
			}
			if used > cost {
				t.Fatalf("Decode allocated %d bytes, DecodeCost said at most %d", used, cost)
			}
			var out bytes.Buffer
			out.Grow(int(m.EncodedSize()))
			before := int64(out.Cap())
			used = int64(allocatedBy(func() { err = m.Encode(&out, PNG) }))
			if err != nil {
				t.Fatal(err)
			}
			if used > m.EncodeCost() || int64(out.Cap()) != before {
				t.Fatalf("Encode allocated %d bytes (EncodeCost %d); the output outgrew its budgeted buffer: %v", used, m.EncodeCost(), int64(out.Cap()) != before)
			}
		})
	}
}

func TestDecodeCostRefusesBeforeAllocating(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 100, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeCost(buf.Bytes(), 9999); !errors.Is(err, ErrCoverTooLarge) {
		t.Fatalf("over the pixel cap: %v", err)
	}
	if _, err := DecodeCost([]byte("not an image"), 0); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("not an image: %v", err)
	}
}

// withChunkAfterIHDR inserts a chunk right after a PNG's IHDR.
func withChunkAfterIHDR(t *testing.T, data []byte, typ string, body []byte) []byte {
	t.Helper()
	const afterIHDR = 8 + 12 + 13
	if len(data) < afterIHDR || string(data[12:16]) != "IHDR" {
		t.Fatal("not a PNG starting with IHDR")
	}
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	chunk = append(chunk, typ...)
	chunk = append(chunk, body...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	return slices.Concat(data[:afterIHDR], chunk, data[afterIHDR:])
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
