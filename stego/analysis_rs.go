package stego

import "math/bits"

// RS analysis (Fridrich, Goljan & Du, "Reliable detection of LSB
// steganography in color and grayscale images", 2001).
//
// Samples of one channel are cut into non-overlapping groups of four
// along each row. A group's noisiness is f = Σ|xᵢ₊₁ − xᵢ|. Applying the
// mask M = [0 1 1 0] flips the LSB of the middle two samples (F₁: 2k↔2k+1);
// −M applies the shifted flip F₋₁ (2k−1↔2k). A group is Regular if the
// flip makes it noisier, Singular if smoother. In a natural image
// R_M ≈ R₋M and S_M ≈ S₋M; LSB replacement drives R_M and S_M together
// while pulling R₋M and S₋M apart. Counting the same quantities on the
// image with every LSB flipped gives the other end of the curve, and the
// quadratic through both ends gives the rate.

// rsCounts holds the regular/singular counts under M and −M for the image
// as it is and with all LSBs flipped.
type rsCounts struct {
	rm, sm, rn, sn     int // as is: R_M, S_M, R_−M, S_−M
	rmF, smF, rnF, snF int // all LSBs flipped
	groups             int
}

func (c *rsCounts) add(o rsCounts) {
	c.rm += o.rm
	c.sm += o.sm
	c.rn += o.rn
	c.sn += o.sn
	c.rmF += o.rmF
	c.smF += o.smF
	c.rnF += o.rnF
	c.snF += o.snF
	c.groups += o.groups
}

// rate solves the RS quadratic
//
//	2(d₁+d₀)z² + (d₋₀ − d₋₁ − d₁ − 3d₀)z + d₀ − d₋₀ = 0
//
// with d₀ = R_M − S_M, d₁ the same on the flipped image, d₋₀ and d₋₁ their
// −M counterparts, and converts its root z to the rate p = z/(z − ½).
// The equation is homogeneous in the counts, so they need no normalising.
func (c *rsCounts) rate() float64 {
	if c.groups == 0 {
		return 0
	}
	d0 := float64(c.rm - c.sm)
	d1 := float64(c.rmF - c.smF)
	dn0 := float64(c.rn - c.sn)
	dn1 := float64(c.rnF - c.snF)
	z := anaSmallerRoot(2*(d1+d0), dn0-dn1-d1-3*d0, d0-dn0)
	if z == 0.5 {
		return 1
	}
	return anaClampRate(z / (z - 0.5))
}

// rsAnalyze runs RS analysis on vals (w×h pixels of ch interleaved
// samples), per channel and pooled.
func rsAnalyze[T anaSample](vals []T, w, h, ch int) RSReport {
	per := make([]rsCounts, ch)
	stride := w * ch
	for y := 0; y < h; y++ {
		row := vals[y*stride : (y+1)*stride]
		for x := 0; x+4 <= w; x += 4 {
			g := row[x*ch:]
			for c := 0; c < ch; c++ {
				rsGroup(&per[c], int(g[c]), int(g[ch+c]), int(g[2*ch+c]), int(g[3*ch+c]))
			}
		}
	}
	rep := RSReport{PerChannel: make([]float64, ch)}
	var all rsCounts
	for c := range per {
		rep.PerChannel[c] = per[c].rate()
		all.add(per[c])
	}
	rep.Rate = all.rate()
	rep.Groups = all.groups
	return rep
}

// rsGroup classifies one group a b c d under M and −M, as is and with
// all LSBs flipped. It is the inner loop of RS, so it is branch-free:
// the sign of each noisiness difference is extracted arithmetically.
func rsGroup(cnt *rsCounts, a, b, c, d int) {
	b1, c1 := b^1, c^1                         // F₁ on the masked samples
	bn, cn := b-1+(b&1)<<1, c-1+(c&1)<<1       // F₋₁: even x → x−1, odd x → x+1
	f0 := rsAbs(b-a) + rsAbs(c-b) + rsAbs(d-c) // as is
	fm := rsAbs(b1-a) + rsAbs(c1-b1) + rsAbs(d-c1)
	fn := rsAbs(bn-a) + rsAbs(cn-bn) + rsAbs(d-cn)
	cnt.rm += anaPositive(fm - f0)
	cnt.sm += anaPositive(f0 - fm)
	cnt.rn += anaPositive(fn - f0)
	cnt.sn += anaPositive(f0 - fn)

	// The flipped image: a' = a^1, b' = b1, c' = c1, d' = d^1. F₁ on b', c'
	// gives b, c back; F₋₁ on them is computed afresh.
	aF, dF := a^1, d^1
	bnF, cnF := b1-1+(b1&1)<<1, c1-1+(c1&1)<<1
	g0 := rsAbs(b1-aF) + rsAbs(c1-b1) + rsAbs(dF-c1)
	gm := rsAbs(b-aF) + rsAbs(c-b) + rsAbs(dF-c)
	gn := rsAbs(bnF-aF) + rsAbs(cnF-bnF) + rsAbs(dF-cnF)
	cnt.rmF += anaPositive(gm - g0)
	cnt.smF += anaPositive(g0 - gm)
	cnt.rnF += anaPositive(gn - g0)
	cnt.snF += anaPositive(g0 - gn)
	cnt.groups++
}

// rsAbs is |x| without a branch.
func rsAbs(x int) int {
	m := x >> (bits.UintSize - 1)
	return (x ^ m) - m
}

// anaPositive is 1 if x > 0, else 0, without a branch.
func anaPositive(x int) int { return int(uint(-x) >> (bits.UintSize - 1)) }
