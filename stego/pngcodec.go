package stego

import (
	"errors"
	"fmt"
	"io"

	"github.com/stegocluster/stegocluster/stego/internal/png"
)

// The fast PNG codec lives in internal/png and knows nothing of rasters
// or of this package's errors. These adapters share the pixel buffer
// (the two layouts are the same, so nothing is copied) and turn its
// errors into ours.

// decodePNG decodes with the fast decoder. Valid PNGs it does not handle
// give an error matching png.ErrNotFastPath.
// It also returns the file's structure (see pngLayout).
func decodePNG(data []byte, maxPixels int64) (*raster, *png.Layout, error) {
	m, err := png.Decode(data, maxPixels)
	if err != nil {
		return nil, nil, pngError(err)
	}
	return &raster{width: m.Width, height: m.Height, channels: m.Channels, alpha: m.Alpha, depth16: m.Depth16, pix: m.Pix}, m.Layout, nil
}

// encodePNG writes r as a PNG of its own colour type and bit depth, with
// layout's structure (chunks, IDAT size, zlib header, row filters) if it
// is not nil and fits r, else with libpng's defaults.
func encodePNG(w io.Writer, r *raster, layout *png.Layout) error {
	m := r.pngImage()
	m.Layout = layout
	return pngError(png.Encode(w, m))
}

// pngImage views r as the codec's image, sharing its pixel buffer.
func (r *raster) pngImage() *png.Image {
	return &png.Image{Width: r.width, Height: r.height, Channels: r.channels, Alpha: r.alpha, Depth16: r.depth16, Pix: r.pix}
}

// pngError wraps the codec's input errors in this package's sentinels;
// other errors (a failed write, ErrNotFastPath) pass through.
func pngError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, png.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrCoverTooLarge, err)
	case errors.Is(err, png.ErrFormat):
		return fmt.Errorf("%w: %w", ErrUnsupportedFormat, err)
	}
	return err
}
