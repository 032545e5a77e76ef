package png

import "image"

// Std returns m as a standard library image that shares no memory with
// m: Gray or Gray16 for gray without alpha, NRGBA or NRGBA64 for
// everything else. RGB without alpha gets fully opaque alpha samples
// (image/png writes such an image as RGB); gray with alpha gets equal
// colour channels (image/png writes it as RGBA, having no gray+alpha
// output). Samples are copied verbatim, never premultiplied or rescaled.
func (m *Image) Std() image.Image {
	rect := image.Rect(0, 0, m.Width, m.Height)
	bps := 1
	if m.Depth16 {
		bps = 2
	}
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
	ps := m.pixelStride()
	for i := 0; i < m.Width*m.Height; i++ {
		p, q := m.Pix[i*ps:(i+1)*ps], pix[4*i*bps:4*(i+1)*bps]
		for c := 0; c < 3; c++ {
			src := c
			if m.Channels == 1 {
				src = 0
			}
			copy(q[c*bps:(c+1)*bps], p[src*bps:(src+1)*bps])
		}
		a := q[3*bps:]
		if m.Alpha {
			copy(a, p[ps-bps:])
		} else {
			for j := range a {
				a[j] = 0xff
			}
		}
	}
	return out
}
