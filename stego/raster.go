package stego

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
)

// raster is the codec's working form of an image: interleaved samples with
// the colour channels that may carry data first and an optional alpha
// sample last. Alpha is carried along untouched so that it round-trips bit
// for bit; it is never part of the sample space the embedder sees.
//
// Samples are one byte, or two bytes big-endian when depth16 is set (the
// same layout PNG uses, which lets the PNG codec read and write pix
// without conversion).
type raster struct {
	width, height int
	channels      int  // data-carrying colour channels: 1 (gray) or 3 (RGB)
	alpha         bool // an alpha sample follows the colour samples
	depth16       bool // samples are 16-bit big-endian
	pix           []byte
}

// newRaster allocates a zeroed raster of the given shape.
func newRaster(width, height, channels int, alpha, depth16 bool) *raster {
	r := &raster{width: width, height: height, channels: channels, alpha: alpha, depth16: depth16}
	r.pix = make([]byte, width*height*r.pixelStride())
	return r
}

// samplesPerPixel counts all samples of a pixel, alpha included.
func (r *raster) samplesPerPixel() int {
	if r.alpha {
		return r.channels + 1
	}
	return r.channels
}

// bytesPerSample is 1 or 2.
func (r *raster) bytesPerSample() int {
	if r.depth16 {
		return 2
	}
	return 1
}

// pixelStride is the number of bytes one pixel occupies in pix.
func (r *raster) pixelStride() int { return r.samplesPerPixel() * r.bytesPerSample() }

// rowStride is the number of bytes one row occupies in pix.
func (r *raster) rowStride() int { return r.width * r.pixelStride() }

// dataSamples is the size of the sample space available for embedding:
// every colour sample of every pixel, never alpha.
func (r *raster) dataSamples() int { return r.width * r.height * r.channels }

// offset returns the byte offset in pix of data sample s. For 16-bit
// rasters it is the offset of the low (second) byte, which is where the
// embedded bits live.
func (r *raster) offset(s int) int {
	var o int
	switch {
	case !r.alpha:
		o = s
	case r.channels == 1:
		o = 2 * s
	default: // RGB + alpha
		o = s + s/3
	}
	if r.depth16 {
		return 2*o + 1
	}
	return o
}

// clone returns a deep copy.
func (r *raster) clone() *raster {
	c := *r
	c.pix = append([]byte(nil), r.pix...)
	return &c
}

// sample returns data sample s as an integer (0–255 or 0–65535).
func (r *raster) sample(s int) int {
	o := r.offset(s)
	if r.depth16 {
		return int(r.pix[o-1])<<8 | int(r.pix[o])
	}
	return int(r.pix[o])
}

// setSample stores v into data sample s.
func (r *raster) setSample(s, v int) {
	o := r.offset(s)
	if r.depth16 {
		r.pix[o-1] = byte(v >> 8)
	}
	r.pix[o] = byte(v)
}

// maxSample is the largest value a sample can hold.
func (r *raster) maxSample() int {
	if r.depth16 {
		return 0xffff
	}
	return 0xff
}

// opaque reports whether every alpha sample is fully opaque (or there is
// no alpha at all).
func (r *raster) opaque() bool {
	if !r.alpha {
		return true
	}
	spp, bps := r.samplesPerPixel(), r.bytesPerSample()
	for i := (spp - 1) * bps; i < len(r.pix); i += spp * bps {
		if r.pix[i] != 0xff || (bps == 2 && r.pix[i+1] != 0xff) {
			return false
		}
	}
	return true
}

// rasterFromImage converts a decoded image into a raster without losing
// any information the image holds: 8-bit stays 8-bit, 16-bit stays 16-bit,
// non-premultiplied alpha is copied verbatim. Gray images with alpha
// arrive from image/png as NRGBA; grayAlpha tells us so (the caller knows
// it from the PNG header), and then a single data channel is kept.
func rasterFromImage(img image.Image, grayAlpha bool) (*raster, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%w: empty image", ErrUnsupportedFormat)
	}
	switch m := img.(type) {
	case *image.Gray:
		r := newRaster(w, h, 1, false, false)
		copyRows(r, m.Pix, m.Stride)
		return r, nil
	case *image.Gray16:
		r := newRaster(w, h, 1, false, true)
		copyRows(r, m.Pix, m.Stride)
		return r, nil
	case *image.NRGBA:
		if grayAlpha {
			r := newRaster(w, h, 1, true, false)
			for y := 0; y < h; y++ {
				src := m.Pix[y*m.Stride : y*m.Stride+4*w]
				dst := r.pix[y*r.rowStride():]
				for x := 0; x < w; x++ {
					dst[2*x], dst[2*x+1] = src[4*x], src[4*x+3]
				}
			}
			return r, nil
		}
		r := newRaster(w, h, 3, true, false)
		copyRows(r, m.Pix, m.Stride)
		return r, nil
	case *image.NRGBA64:
		if grayAlpha {
			r := newRaster(w, h, 1, true, true)
			for y := 0; y < h; y++ {
				src := m.Pix[y*m.Stride : y*m.Stride+8*w]
				dst := r.pix[y*r.rowStride():]
				for x := 0; x < w; x++ {
					copy(dst[4*x:4*x+2], src[8*x:8*x+2])
					copy(dst[4*x+2:4*x+4], src[8*x+6:8*x+8])
				}
			}
			return r, nil
		}
		r := newRaster(w, h, 3, true, true)
		copyRows(r, m.Pix, m.Stride)
		return r, nil
	case *image.RGBA:
		if isOpaque(m) {
			return rgbFromRGBA(m.Pix, m.Stride, w, h), nil
		}
		// Premultiplied input with transparency (some TIFFs): convert
		// through NRGBA, which is as close as a non-premultiplied output
		// format can get.
		n := image.NewNRGBA(image.Rect(0, 0, w, h))
		draw.Draw(n, n.Bounds(), m, b.Min, draw.Src)
		return rasterFromImage(n, false)
	case *image.RGBA64:
		n := image.NewNRGBA64(image.Rect(0, 0, w, h))
		draw.Draw(n, n.Bounds(), m, b.Min, draw.Src)
		return rasterFromImage(n, false)
	case *image.Paletted:
		return rasterFromPaletted(m), nil
	default:
		// YCbCr (JPEG, WebP), CMYK, Gray-with-alpha variants and anything
		// else: render to RGBA (draw has fast paths for the common ones).
		if !isOpaque(img) {
			n := image.NewNRGBA(image.Rect(0, 0, w, h))
			draw.Draw(n, n.Bounds(), img, b.Min, draw.Src)
			return rasterFromImage(n, false)
		}
		rgba := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
		return rgbFromRGBA(rgba.Pix, rgba.Stride, w, h), nil
	}
}

func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// copyRows copies a Go image's rows (which may be padded) into r.
func copyRows(r *raster, pix []byte, stride int) {
	rs := r.rowStride()
	for y := 0; y < r.height; y++ {
		copy(r.pix[y*rs:(y+1)*rs], pix[y*stride:])
	}
}

func rgbFromRGBA(pix []byte, stride, w, h int) *raster {
	r := newRaster(w, h, 3, false, false)
	for y := 0; y < h; y++ {
		src := pix[y*stride : y*stride+4*w]
		dst := r.pix[y*3*w : (y+1)*3*w]
		for x := 0; x < w; x++ {
			dst[3*x], dst[3*x+1], dst[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
		}
	}
	return r
}

// rasterFromPaletted expands palette indices to samples. An all-gray
// palette (gray GIFs, the 8-bit gray BMPs we write) gives a gray raster,
// so such images keep the sample space they were embedded in.
func rasterFromPaletted(m *image.Paletted) *raster {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	alpha, gray := false, true
	pal := make([]color.NRGBA, 256)
	for i := range pal {
		pal[i] = color.NRGBA{A: 0xff} // out-of-palette index: opaque black
		if i < len(m.Palette) {
			pal[i] = color.NRGBAModel.Convert(m.Palette[i]).(color.NRGBA)
		}
		c := pal[i]
		alpha = alpha || c.A != 0xff
		gray = gray && c.R == c.G && c.G == c.B
	}
	channels := 3
	if gray {
		channels = 1
	}
	r := newRaster(w, h, channels, alpha, false)
	spp := r.samplesPerPixel()
	for y := 0; y < h; y++ {
		src := m.Pix[y*m.Stride : y*m.Stride+w]
		dst := r.pix[y*r.rowStride():]
		for x, idx := range src {
			c, p := pal[idx], dst[x*spp:]
			p[0] = c.R
			if channels == 3 {
				p[1], p[2] = c.G, c.B
			}
			if alpha {
				p[spp-1] = c.A
			}
		}
	}
	return r
}

// image returns the raster as a standard library image sharing no memory
// with r: Gray, Gray16, NRGBA or NRGBA64, gray with alpha as NRGBA or
// NRGBA64 with equal colour channels (png.Image.Std).
func (r *raster) image() image.Image { return r.pngImage().Std() }
