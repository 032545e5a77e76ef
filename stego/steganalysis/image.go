package steganalysis

import (
	"errors"
	"fmt"
	"image"
)

// Limits on the images features are computed for.
const (
	// MinSide is the smallest width or height accepted: the widest
	// kernel (5×5) and a 4-sample co-occurrence need room to fit, and a
	// handful of residuals says nothing anyway.
	MinSide = 16
	// MaxPixels bounds width·height so that a hostile header cannot make
	// extraction allocate without limit (the same 50 MP cap as the codec).
	MaxPixels = 50_000_000
)

// Errors returned for inputs the detector refuses.
var (
	ErrTooSmall  = errors.New("steganalysis: image too small")
	ErrTooLarge  = errors.New("steganalysis: image too large")
	ErrBadInput  = errors.New("steganalysis: malformed samples")
	ErrBadModel  = errors.New("steganalysis: malformed model")
	ErrDimension = errors.New("steganalysis: feature dimension does not match model")
)

// Samples is an 8-bit raster in interleaved order: Pix[(y*Width+x)*Channels+c].
// Channels is 1 (gray) or 3 (R, G, B). It is the form features are
// computed from; FromImage converts any image.Image to it.
type Samples struct {
	Width, Height, Channels int
	Pix                     []uint8
}

// Validate reports whether s is well formed and within the size limits.
func (s Samples) Validate() error {
	if s.Channels != 1 && s.Channels != 3 {
		return fmt.Errorf("%w: %d channels (want 1 or 3)", ErrBadInput, s.Channels)
	}
	if s.Width < MinSide || s.Height < MinSide {
		return fmt.Errorf("%w: %d×%d (want at least %d×%d)", ErrTooSmall, s.Width, s.Height, MinSide, MinSide)
	}
	if int64(s.Width)*int64(s.Height) > MaxPixels {
		return fmt.Errorf("%w: %d×%d is over %d pixels", ErrTooLarge, s.Width, s.Height, MaxPixels)
	}
	if len(s.Pix) != s.Width*s.Height*s.Channels {
		return fmt.Errorf("%w: %d bytes for %d×%d×%d", ErrBadInput, len(s.Pix), s.Width, s.Height, s.Channels)
	}
	return nil
}

// FromImage converts img to Samples: gray images (image.Gray, Gray16)
// give one channel, everything else three. Alpha is ignored and 16-bit
// samples keep their high byte, so a 16-bit image is analysed at 8-bit
// precision (embedding in its low byte is invisible to this detector).
// The size limits are checked before any pixel memory is allocated.
func FromImage(img image.Image) (Samples, error) {
	if img == nil {
		return Samples{}, fmt.Errorf("%w: nil image", ErrBadInput)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	gray := false
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		gray = true
	}
	ch := 3
	if gray {
		ch = 1
	}
	s := Samples{Width: w, Height: h, Channels: ch}
	if err := s.Validate(); err != nil && !errors.Is(err, ErrBadInput) {
		return Samples{}, err
	}
	s.Pix = make([]uint8, w*h*ch)
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(s.Pix[y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
	case *image.RGBA:
		copyRGB(s.Pix, m.Pix, m.Stride, w, h)
	case *image.NRGBA:
		copyRGB(s.Pix, m.Pix, m.Stride, w, h)
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bb, _ := img.At(x, y).RGBA()
				if gray {
					s.Pix[i] = uint8(r >> 8)
					i++
					continue
				}
				s.Pix[i], s.Pix[i+1], s.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
				i += 3
			}
		}
	}
	return s, nil
}

// copyRGB drops the alpha byte of 4-byte pixels. For RGBA (premultiplied)
// input this is exact for opaque images, the only kind the codec writes
// data into without alpha.
func copyRGB(dst, src []uint8, stride, w, h int) {
	for y := 0; y < h; y++ {
		row := src[y*stride : y*stride+4*w]
		out := dst[3*y*w : 3*(y+1)*w]
		for x := 0; x < w; x++ {
			out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// planes splits s into one int32 plane per channel.
func (s Samples) planes() [][]int32 {
	n := s.Width * s.Height
	ps := make([][]int32, s.Channels)
	for c := range ps {
		p := make([]int32, n)
		for i := 0; i < n; i++ {
			p[i] = int32(s.Pix[i*s.Channels+c])
		}
		ps[c] = p
	}
	return ps
}
