package stego

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"

	// Cover formats we accept. Registration is how image.Decode finds
	// them; the codecs are the standard and x/image ones, but for the
	// PNGs internal/png decodes itself.
	_ "image/gif"
	_ "image/jpeg"
	stdpng "image/png" // the fallback for PNGs outside the fast decoder's subset

	"golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/stegocluster/stegocluster/stego/internal/png"
)

// DefaultMaxPixels is the pixel cap Decode applies when its maxPixels
// argument is zero or negative: 50 megapixels, about 150 MB of 8-bit RGB
// samples.
const DefaultMaxPixels = 50_000_000

// Format names an output image format.
type Format string

// Output formats. Both are lossless; PNG is the default.
const (
	PNG Format = "png"
	BMP Format = "bmp"
)

// Image is a decoded cover or stego image in the codec's working form.
// Its zero value is not usable; make one with Decode or FromImage.
type Image struct {
	r *raster
	// pngLayout is the structure of the PNG file the image was decoded
	// from, nil for other sources. Encode writes PNGs with it, so that a
	// stego image looks written by whatever wrote its cover rather than
	// by us; it is never modified, so copies of the image share it.
	pngLayout *png.Layout
	// SourceFormat is the format the image was decoded from ("png",
	// "jpeg", "gif", "bmp", "tiff", "webp"), or "" for FromImage.
	SourceFormat string
	// Notes says what decoding changed that a user should know, e.g. that
	// a lossy or paletted cover becomes a truecolor PNG.
	Notes []string
	// Public marks a cover that is published, such as a service's
	// built-in one: whoever has it sees every changed sample by
	// comparison, so stealth advice gives it no stealthy payload.
	Public bool
	// lossyWebP: decoded from a lossy (VP8) WebP, which stealth advice
	// treats like a JPEG.
	lossyWebP bool
}

// Width and Height are the image's dimensions in pixels.
func (m *Image) Width() int  { return m.r.width }
func (m *Image) Height() int { return m.r.height }

// Channels is the number of colour channels that carry data (1 or 3);
// alpha never does.
func (m *Image) Channels() int { return m.r.channels }

// HasAlpha reports whether the image has an alpha channel.
func (m *Image) HasAlpha() bool { return m.r.alpha }

// BitDepth is 8 or 16 bits per sample.
func (m *Image) BitDepth() int { return 8 * m.r.bytesPerSample() }

// Image returns a copy as a standard library image.
func (m *Image) Image() image.Image { return m.r.image() }

// Decode reads an image of any supported format from data. It reads the
// header first and refuses an image of more than maxPixels pixels
// (DefaultMaxPixels if maxPixels <= 0) with ErrCoverTooLarge before any
// pixel memory is allocated. Data that is no image we read gives
// ErrUnsupportedFormat. Decode never keeps a reference to data.
func Decode(data []byte, maxPixels int64) (*Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	_, format, err := decodeHeader(data, maxPixels)
	if err != nil {
		return nil, err
	}
	m := &Image{SourceFormat: format}
	if format == "png" {
		m.r, m.pngLayout, err = decodePNG(data, maxPixels)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, png.ErrNotFastPath) {
			return nil, err
		}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", ErrUnsupportedFormat, format, err)
	}
	if m.r, err = rasterFromImage(img, format == "png" && png.GrayAlpha(data)); err != nil {
		return nil, err
	}
	m.lossyWebP = format == "webp" && webpLossy(data)
	switch format {
	case "jpeg", "webp":
		m.Notes = append(m.Notes, fmt.Sprintf("%s cover decoded to pixels; the result is a lossless image, not %s", format, format))
	case "gif":
		m.Notes = append(m.Notes, "GIF cover: first frame used; the result is a truecolor image")
	}
	if _, ok := img.(*image.Paletted); ok && format != "gif" {
		m.Notes = append(m.Notes, "paletted cover converted to truecolor")
	}
	return m, nil
}

// decodeHeader reads an image's header and refuses, before any pixel is
// allocated, what Decode refuses: data that is no image we read
// (ErrUnsupportedFormat) and more than maxPixels pixels
// (ErrCoverTooLarge).
func decodeHeader(data []byte, maxPixels int64) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err == stdpng.UnsupportedError("dimension overflow") {
		// Where int has 32 bits, image/png refuses a header whose pixels
		// would overflow it: too large, not malformed.
		return cfg, "", fmt.Errorf("%w: %v", ErrCoverTooLarge, err)
	}
	if err != nil {
		return cfg, "", fmt.Errorf("%w: %v", ErrUnsupportedFormat, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", fmt.Errorf("%w: %dx%d image", ErrUnsupportedFormat, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return cfg, "", fmt.Errorf("%w: %dx%d is over the %d pixel limit", ErrCoverTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	return cfg, format, nil
}

// FromImage converts a standard library image. The image is copied.
func FromImage(img image.Image) (*Image, error) {
	r, err := rasterFromImage(img, false)
	if err != nil {
		return nil, err
	}
	return &Image{r: r}, nil
}

// Encode writes the image losslessly in format f (PNG if empty). BMP
// cannot hold 16-bit samples or gray with alpha; asking for it gives
// ErrUnsupportedFormat rather than a lossy file.
func (m *Image) Encode(w io.Writer, f Format) error {
	switch f {
	case PNG, "":
		return encodePNG(w, m.r, m.pngLayout)
	case BMP:
		if m.r.depth16 || (m.r.channels == 1 && m.r.alpha) {
			return fmt.Errorf("%w: BMP cannot hold this image losslessly (16-bit or gray with alpha); use PNG", ErrUnsupportedFormat)
		}
		img := m.r.image()
		if !m.r.alpha || m.r.opaque() {
			// bmp writes opaque images as 24-bit; NRGBA with alpha as 32-bit.
			if n, ok := img.(*image.NRGBA); ok {
				rgba := &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
				return bmp.Encode(w, rgba)
			}
		}
		return bmp.Encode(w, img)
	default:
		return fmt.Errorf("%w: output format %q (want png or bmp)", ErrUnsupportedFormat, f)
	}
}

// webpLossy reports whether a WebP file's image is lossy: whether its
// RIFF chunks hold a "VP8 " bitstream (lossy) rather than "VP8L"
// (lossless). An extended file (VP8X) lists other chunks first.
func webpLossy(data []byte) bool {
	const riffHeader = 12 // "RIFF", size, "WEBP"
	for off := riffHeader; off+8 <= len(data); {
		fourCC := string(data[off : off+4])
		size := int(binary.LittleEndian.Uint32(data[off+4:]))
		switch fourCC {
		case "VP8 ":
			return true
		case "VP8L":
			return false
		}
		if size < 0 || size > len(data) {
			return false
		}
		off += 8 + size + size&1 // chunks are padded to even sizes
	}
	return false
}
