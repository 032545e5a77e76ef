package stego

import (
	"context"
	"math"
)

// HILL costs (Li, Wang, Huang & Li, "A new cost function for spatial
// image steganography", ICIP 2014), per colour channel:
//
//	ρ = L₂ ∗ 1/(L₁ ∗ |H ∗ X| + ε)
//
// with H the 3×3 KB high-pass filter, L₁ the 3×3 and L₂ the 15×15
// average, borders mirrored (MATLAB's 'symmetric'). A change is cheap
// where the residual is large all around (texture, noise) and dear in
// smooth regions and along clean edges, which is where rich models see
// it. Costs depend on the cover only: the extractor never needs them.
const (
	hillEpsilon = 1e-10
	// hillMaxCost caps a cost (flat regions give 1/ε): such samples are
	// in effect wet, yet a float32 trellis still orders them.
	hillMaxCost = 1e10
)

// hillCosts returns the cost of changing each data sample of r by ±1,
// indexed by sample. It checks ctx between channels.
func hillCosts(ctx context.Context, r *raster) ([]float32, error) {
	w, h, c := r.width, r.height, r.channels
	rho := make([]float32, r.dataSamples())
	plane := make([]float32, w*h)
	res := make([]float32, w*h)
	for ch := range c {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for p := range plane {
			plane[p] = float32(r.sample(p*c + ch))
		}
		// |KB ∗ X|
		for y := range h {
			ym, yp := mirror(y-1, h), mirror(y+1, h)
			for x := range w {
				xm, xp := mirror(x-1, w), mirror(x+1, w)
				v := -plane[ym*w+xm] + 2*plane[ym*w+x] - plane[ym*w+xp] +
					2*plane[y*w+xm] - 4*plane[y*w+x] + 2*plane[y*w+xp] -
					plane[yp*w+xm] + 2*plane[yp*w+x] - plane[yp*w+xp]
				res[y*w+x] = float32(math.Abs(float64(v)))
			}
		}
		boxFilter(res, plane, w, h, 1)
		for p, v := range res {
			res[p] = 1 / (v + hillEpsilon)
		}
		boxFilter(res, plane, w, h, 7)
		for p, v := range res {
			rho[p*c+ch] = float32(min(float64(v), hillMaxCost))
		}
	}
	return rho, nil
}

// mirror maps an index outside [0, n) into it by mirroring with the
// edge repeated (… 1 0 | 0 1 … n-1 | n-1 n-2 …), for any offset.
func mirror(i, n int) int {
	period := 2 * n
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - 1 - i
	}
	return i
}

// boxFilter replaces a (w×h) by its (2r+1)×(2r+1) mean with mirrored
// borders, using tmp (w·h) as scratch.
func boxFilter(a, tmp []float32, w, h, r int) {
	k := float64(2*r + 1)
	line := make([]float64, max(w, h)+2*r+1)
	// rows: a → tmp
	for y := range h {
		row := a[y*w : y*w+w]
		line[0] = 0
		for i := -r; i < w+r; i++ {
			line[i+r+1] = line[i+r] + float64(row[mirror(i, w)])
		}
		out := tmp[y*w : y*w+w]
		for x := range w {
			out[x] = float32((line[x+2*r+1] - line[x]) / k)
		}
	}
	// columns: tmp → a
	for x := range w {
		line[0] = 0
		for i := -r; i < h+r; i++ {
			line[i+r+1] = line[i+r] + float64(tmp[mirror(i, h)*w+x])
		}
		for y := range h {
			a[y*w+x] = float32((line[y+2*r+1] - line[y]) / k)
		}
	}
}
