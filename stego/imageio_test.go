package stego

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// photoCrop returns a w×h crop of the small real photograph as NRGBA.
func photoCrop(t testing.TB, w, h int) *image.NRGBA {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(testenv.Cover(t, testenv.CoverSmallPNG)))
	if err != nil {
		t.Fatal(err)
	}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, src.At(x+100, y+100))
		}
	}
	return m
}

func encodeWith(t testing.TB, img image.Image, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCoverFormats(t *testing.T) {
	photo := photoCrop(t, 96, 64)
	withAlpha := image.NewNRGBA(photo.Rect)
	copy(withAlpha.Pix, photo.Pix)
	for i := 3; i < len(withAlpha.Pix); i += 4 {
		withAlpha.Pix[i] = []byte{0, 128, 200, 255}[i/4%4]
	}
	gray := image.NewGray(photo.Rect)
	for i := range gray.Pix {
		gray.Pix[i] = photo.Pix[4*i+1]
	}
	paletted := image.NewPaletted(photo.Rect, append(palette.Plan9[:255:255], color.NRGBA{}))
	for y := 0; y < 64; y++ {
		for x := 0; x < 96; x++ {
			paletted.Set(x, y, photo.At(x, y))
		}
	}
	paletted.SetColorIndex(0, 0, 255) // one transparent pixel
	webp, _ := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	webpAlpha, _ := os.ReadFile("testdata/yellow_rose.lossy-with-alpha.webp")

	pngEnc := func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }
	cases := []struct {
		name      string
		data      []byte
		format    string
		channels  int
		alpha     bool
		noteMatch string
	}{
		{"png rgb", encodeWith(t, photo, pngEnc), "png", 3, false, ""},
		{"png rgba", encodeWith(t, withAlpha, pngEnc), "png", 3, true, ""},
		{"png gray", encodeWith(t, gray, pngEnc), "png", 1, false, ""},
		{"png paletted", encodeWith(t, paletted, pngEnc), "png", 3, true, "paletted"},
		{"jpeg", encodeWith(t, photo, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, &jpeg.Options{Quality: 90}) }), "jpeg", 3, false, "jpeg"},
		{"jpeg photo", testenv.Cover(t, testenv.CoverLargeJPG), "jpeg", 3, false, "jpeg"},
		{"gif", encodeWith(t, paletted, func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) }), "gif", 3, true, "first frame"},
		{"bmp rgb", encodeWith(t, photo, func(b *bytes.Buffer, m image.Image) error { return bmp.Encode(b, m) }), "bmp", 3, false, ""},
		{"bmp gray", encodeWith(t, gray, func(b *bytes.Buffer, m image.Image) error { return bmp.Encode(b, m) }), "bmp", 1, false, ""},
		{"tiff", encodeWith(t, withAlpha, func(b *bytes.Buffer, m image.Image) error { return tiff.Encode(b, m, nil) }), "tiff", 3, true, ""},
		{"webp", webp, "webp", 3, false, "webp"},
		{"webp alpha", webpAlpha, "webp", 3, true, "webp"},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) == 0 {
				t.Fatal("fixture missing")
			}
			cover, err := Decode(tc.data, 0)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if cover.SourceFormat != tc.format || cover.Channels() != tc.channels {
				t.Fatalf("decoded as %s with %d channels, want %s with %d", cover.SourceFormat, cover.Channels(), tc.format, tc.channels)
			}
			if tc.alpha && !cover.HasAlpha() {
				t.Fatalf("alpha channel lost")
			}
			if tc.noteMatch != "" && !strings.Contains(strings.ToLower(strings.Join(cover.Notes, " ")), tc.noteMatch) {
				t.Errorf("notes %q do not mention %q", cover.Notes, tc.noteMatch)
			}
			secret := Secret{Name: "s.bin", Data: testenv.RandomBytes(200, 4)}
			out, _, err := Embed(ctx, cover, secret, Options{Password: "pw"})
			if err != nil {
				t.Fatalf("embed: %v", err)
			}
			got, err := Extract(ctx, reencode(t, out, PNG), Options{Password: "pw"})
			if err != nil || !bytes.Equal(got.Data, secret.Data) {
				t.Fatalf("extract after PNG round trip: %v", err)
			}
		})
	}
}

// TestAlphaPreservedBitForBit: colour under alpha 0, 128, 200 and 255
// must survive exactly where not embedded into, and alpha itself always;
// tools that go through premultiplied RGBA destroy both.
func TestAlphaPreservedBitForBit(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 80, 60))
	rng := testenv.RandomBytes(len(m.Pix), 8)
	copy(m.Pix, rng)
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = []byte{0, 128, 200, 255}[(i/4)%4]
	}
	var coverPNG bytes.Buffer
	if err := png.Encode(&coverPNG, m); err != nil {
		t.Fatal(err)
	}
	cover, err := Decode(coverPNG.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	secret := Secret{Data: testenv.RandomBytes(400, 9)}
	out, _, err := Embed(context.Background(), cover, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var stegoPNG bytes.Buffer
	if err := out.Encode(&stegoPNG, PNG); err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(bytes.NewReader(stegoPNG.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := decoded.(*image.NRGBA)
	if !ok {
		t.Fatalf("stego PNG decodes as %T, want *image.NRGBA", decoded)
	}
	for i := range m.Pix {
		d := int(n.Pix[i]) - int(m.Pix[i])
		if i%4 == 3 && d != 0 {
			t.Fatalf("alpha of pixel %d changed: %d → %d", i/4, m.Pix[i], n.Pix[i])
		}
		if d < -1 || d > 1 {
			t.Fatalf("colour sample %d changed by %d under alpha %d", i, d, m.Pix[i|3])
		}
	}
	got, err := Extract(context.Background(), reencode(t, out, PNG), Options{})
	if err != nil || !bytes.Equal(got.Data, secret.Data) {
		t.Fatalf("extract: %v", err)
	}
}

func TestSixteenBitRoundTripsLosslessly(t *testing.T) {
	m := image.NewNRGBA64(image.Rect(0, 0, 50, 40))
	copy(m.Pix, testenv.RandomBytes(len(m.Pix), 10))
	var coverPNG bytes.Buffer
	if err := png.Encode(&coverPNG, m); err != nil {
		t.Fatal(err)
	}
	cover, err := Decode(coverPNG.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if cover.BitDepth() != 16 {
		t.Fatalf("16-bit PNG decoded at %d bits", cover.BitDepth())
	}
	out, _, err := Embed(context.Background(), cover, Secret{Data: []byte("sixteen")}, Options{Depth: 2})
	if err != nil {
		t.Fatal(err)
	}
	var stegoPNG bytes.Buffer
	if err := out.Encode(&stegoPNG, PNG); err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(&stegoPNG)
	if err != nil {
		t.Fatal(err)
	}
	n, ok := decoded.(*image.NRGBA64)
	if !ok {
		t.Fatalf("stego PNG decodes as %T, want 16-bit NRGBA64", decoded)
	}
	for i := 0; i < len(m.Pix); i += 2 {
		before, after := int(binary.BigEndian.Uint16(m.Pix[i:])), int(binary.BigEndian.Uint16(n.Pix[i:]))
		if d := after - before; d < -2 || d > 2 || (i/2%4 == 3 && d != 0) {
			t.Fatalf("16-bit sample %d: %d → %d", i/2, before, after)
		}
	}
	if err := out.Encode(&bytes.Buffer{}, BMP); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("16-bit to BMP: err = %v, want ErrUnsupportedFormat", err)
	}
}

// pngWithHeader builds a syntactically valid PNG whose IHDR declares the
// given size, followed by a tiny IDAT: a decompression-bomb probe.
func pngWithHeader(width, height uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		b.Write(n[:])
		b.WriteString(typ)
		b.Write(data)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(append([]byte(typ), data...)))
		b.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], width)
	binary.BigEndian.PutUint32(ihdr[4:], height)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", bytes.Repeat([]byte{0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1}, 1000))
	chunk("IEND", nil)
	return b.Bytes()
}

func TestDecodeRefusesHugeImagesBeforeAllocating(t *testing.T) {
	bomb := pngWithHeader(100000, 100000)
	if len(bomb) > 10*1024 {
		t.Fatalf("bomb is %d bytes, want ≤ 10 KB", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode(bomb, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCoverTooLarge) {
		t.Fatalf("err = %v, want ErrCoverTooLarge", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing the bomb allocated %d bytes", alloc)
	}
	// The cap is configurable: a small image over a small cap is refused too.
	if _, err := Decode(pngWithHeader(100, 100), 5000); !errors.Is(err, ErrCoverTooLarge) {
		t.Fatalf("100x100 with a 5000-pixel cap: err = %v, want ErrCoverTooLarge", err)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	valid := encodeWith(t, photoCrop(t, 20, 20), func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })
	cases := map[string][]byte{
		"empty":           nil,
		"text":            []byte("hello, this is not an image"),
		"truncated png":   valid[:len(valid)/2],
		"header only":     valid[:33],
		"random":          testenv.RandomBytes(5000, 1),
		"zero-size image": pngWithHeader(0, 10),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(data, 0); !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("err = %v, want ErrUnsupportedFormat", err)
			}
		})
	}
}

func TestBMPRefusesWhatItCannotHold(t *testing.T) {
	ga := &Image{r: noiseRaster(10, 10, 1, true, false, 1)}
	if err := ga.Encode(&bytes.Buffer{}, BMP); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("gray+alpha to BMP: %v, want ErrUnsupportedFormat", err)
	}
	if err := ga.Encode(&bytes.Buffer{}, "jpeg"); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("jpeg output: %v, want ErrUnsupportedFormat", err)
	}
}

// A gray PNG with a tRNS transparency key decodes, through image/png,
// to NRGBA. Taken as colour, the three channels would each carry bits
// and the gray image would come back tinted; it stays one gray channel,
// its key becomes alpha, and the stego PNG is gray with alpha.
func TestGrayPNGWithTransparencyKeyStaysGray(t *testing.T) {
	photo := photoCrop(t, 96, 64)
	gray := image.NewGray(photo.Bounds())
	draw.Draw(gray, gray.Bounds(), photo, photo.Bounds().Min, draw.Src)
	const key = 7
	gray.Pix[0], gray.Pix[1] = key, key // two transparent pixels
	data := withChunkAfterIHDR(t, encodeWith(t, gray, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) }), "tRNS", []byte{0, key})

	cover, err := Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cover.Channels() != 1 || !cover.HasAlpha() {
		t.Fatalf("decoded with %d channels, alpha %v; want 1 gray channel and alpha", cover.Channels(), cover.HasAlpha())
	}
	secret := Secret{Data: testenv.RandomBytes(300, 9)}
	out, _, err := Embed(context.Background(), cover, secret, Options{Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := out.Encode(&buf, PNG); err != nil {
		t.Fatal(err)
	}
	if colorType := buf.Bytes()[25]; colorType != 4 {
		t.Fatalf("stego PNG colour type %d, want 4 (gray with alpha)", colorType)
	}
	back, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	b := back.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(back.At(x, y)).(color.NRGBA)
			wantA := uint8(255)
			if gray.GrayAt(x, y).Y == key {
				wantA = 0
			}
			if c.R != c.G || c.G != c.B || c.A != wantA {
				t.Fatalf("pixel (%d,%d) = %v: want gray, alpha %d", x, y, c, wantA)
			}
		}
	}
	img, err := Decode(buf.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Extract(context.Background(), img, Options{Password: "p"})
	if err != nil || !bytes.Equal(got.Data, secret.Data) {
		t.Fatalf("extract: %v", err)
	}
}
