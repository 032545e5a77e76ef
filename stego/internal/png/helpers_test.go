package png

import (
	"image"
	randv2 "math/rand/v2"
)

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

// randomBytes is deterministic incompressible data.
func randomBytes(n int, seed uint64) []byte {
	rng := randv2.New(randv2.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// stdImage converts m to the standard library image image/png encodes
// with m's colour type and depth: Gray, Gray16, or NRGBA/NRGBA64 (which
// image/png writes as RGB when every alpha is opaque). Gray with alpha
// becomes NRGBA with equal colour channels, which image/png writes as
// RGBA: it has no gray+alpha output.
func stdImage(m *Image) image.Image {
	rect := image.Rect(0, 0, m.Width, m.Height)
	spp, bps := samplesPerPixel(m), bytesPerSample(m)
	switch {
	case m.Channels == 1 && !m.Alpha && !m.Depth16:
		g := image.NewGray(rect)
		copy(g.Pix, m.Pix)
		return g
	case m.Channels == 1 && !m.Alpha:
		g := image.NewGray16(rect)
		copy(g.Pix, m.Pix)
		return g
	}
	var pix []byte
	var out image.Image
	if m.Depth16 {
		n := image.NewNRGBA64(rect)
		pix, out = n.Pix, n
	} else {
		n := image.NewNRGBA(rect)
		pix, out = n.Pix, n
	}
	for i := 0; i < m.Width*m.Height; i++ {
		p, q := m.Pix[i*spp*bps:], pix[4*i*bps:]
		for c := 0; c < 3; c++ {
			src := c
			if m.Channels == 1 {
				src = 0
			}
			copy(q[c*bps:(c+1)*bps], p[src*bps:(src+1)*bps])
		}
		a := q[3*bps : 4*bps]
		if m.Alpha {
			copy(a, p[(spp-1)*bps:spp*bps])
		} else {
			for j := range a {
				a[j] = 0xff
			}
		}
	}
	return out
}
