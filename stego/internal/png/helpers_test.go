package png

// newTestImage allocates a zeroed image of the given shape.
func newTestImage(w, h, channels int, alpha, depth16 bool) *Image {
	m := &Image{Width: w, Height: h, Channels: channels, Alpha: alpha, Depth16: depth16}
	m.Pix = make([]byte, h*m.rowStride())
	return m
}

// samplesPerPixel counts all samples of a pixel, alpha included.
func samplesPerPixel(m *Image) int {
	if m.Alpha {
		return m.Channels + 1
	}
	return m.Channels
}

// bytesPerSample is 1 or 2.
func bytesPerSample(m *Image) int {
	if m.Depth16 {
		return 2
	}
	return 1
}
