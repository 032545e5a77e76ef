package stego

// Sample pair analysis (Dumitrescu, Wu & Wang, "Detection of LSB
// steganography via sample pair analysis", IEEE TSP 2003).
//
// For each pair (u, v) of horizontally adjacent samples of one channel:
//
//	Z: u = v
//	W: ⌊u/2⌋ = ⌊v/2⌋ but u ≠ v (the pairs 2k,2k+1 and 2k+1,2k)
//	X: ⌊u/2⌋ ≠ ⌊v/2⌋ and (v even and u < v, or v odd and u > v)
//	Y: all other pairs (W is part of Y)
//
// Natural images have |X| ≈ |Y|. LSB replacement at rate p (each sample's
// LSB flipped with probability p/2) moves pairs between the classes so
// that p solves
//
//	½(|W|+|Z|)p² + (2|X| − |P|)p + |Y| − |X| = 0
//
// where P is the set of all pairs; the smaller root is the estimate.

// spaCounts are the class sizes; W+Z is counted as c0, the pairs whose
// values share all bits but the LSB, since only that sum is needed.
type spaCounts struct {
	p, x, y, c0 int
}

func (c *spaCounts) add(o spaCounts) {
	c.p += o.p
	c.x += o.x
	c.y += o.y
	c.c0 += o.c0
}

func (c *spaCounts) rate() float64 {
	if c.p == 0 {
		return 0
	}
	return anaClampRate(anaSmallerRoot(0.5*float64(c.c0), float64(2*c.x-c.p), float64(c.y-c.x)))
}

// spaAnalyze runs SPA on vals (w×h pixels of ch interleaved samples), per
// channel and pooled.
func spaAnalyze[T anaSample](vals []T, w, h, ch int) SPAReport {
	per := make([]spaCounts, ch)
	stride := w * ch
	for c := 0; c < ch; c++ {
		var z, c0, x int
		for y := 0; y < h; y++ {
			row := vals[y*stride : (y+1)*stride]
			for i := c; i+ch < len(row); i += ch {
				z0, c00, x0 := spaPair(int(row[i]), int(row[i+ch]))
				z += z0
				c0 += c00
				x += x0
			}
		}
		pairs := h * max(0, w-1)
		// Y is everything that is neither X nor Z; W is inside it.
		per[c] = spaCounts{p: pairs, x: x, y: pairs - x - z, c0: c0}
	}
	rep := SPAReport{PerChannel: make([]float64, ch)}
	var all spaCounts
	for c := range per {
		rep.PerChannel[c] = per[c].rate()
		all.add(per[c])
	}
	rep.Rate = all.rate()
	rep.Pairs = all.p
	return rep
}

// spaPair classifies one pair as 0/1 flags: in Z, in Z∪W, in X. It is
// branch-free because the classes of neighbouring pairs are close to
// random and would defeat the branch predictor.
func spaPair(u, v int) (z, c0, x int) {
	d := u - v
	z = 1 - anaPositive(d) - anaPositive(-d)
	dh := u>>1 - v>>1
	c0 = 1 - anaPositive(dh) - anaPositive(-dh)
	// Outside C0, u ≠ v, so "u < v" is just the sign of v − u.
	x = (1 - c0) & (anaPositive(-d) ^ (v & 1))
	return z, c0, x
}
