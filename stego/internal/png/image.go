package png

// Image is the pixel buffer Decode fills and Encode writes: samples
// interleaved pixel by pixel and row by row without padding, colour
// first and alpha (if any) last, each one byte, or two bytes big-endian
// when Depth16 is set. That is the layout of an unfiltered PNG row, so
// stego's raster can share Pix with an Image instead of copying it.
type Image struct {
	Width, Height int
	Channels      int  // colour channels: 1 (gray) or 3 (RGB)
	Alpha         bool // an alpha sample follows the colour samples
	Depth16       bool // samples are 16-bit big-endian
	Pix           []byte
	// Layout is the structure of the PNG file the image was decoded from
	// (set by Decode), which Encode reproduces; nil means libpng's.
	Layout *Layout
}

// pixelStride is the number of bytes one pixel occupies in Pix.
func (m *Image) pixelStride() int {
	n := m.Channels
	if m.Alpha {
		n++
	}
	if m.Depth16 {
		n *= 2
	}
	return n
}

// rowStride is the number of bytes one row occupies in Pix.
func (m *Image) rowStride() int { return m.Width * m.pixelStride() }
