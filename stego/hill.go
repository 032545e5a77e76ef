package stego

import (
	"context"
	"math"
	"runtime"
	"sync"
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
// indexed by sample. Each step of the filters splits its rows (or, for
// the vertical box filter, its columns) over up to GOMAXPROCS goroutines,
// so a large cover takes no more memory than one channel's two planes.
// It checks ctx between channels.
func hillCosts(ctx context.Context, r *raster) ([]float32, error) {
	w, h, c := r.width, r.height, r.channels
	rho := make([]float32, r.dataSamples())
	plane := make([]float32, w*h)
	res := make([]float32, w*h)
	for ch := range c {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		inParallel(h, func(y0, y1 int) {
			for p := y0 * w; p < y1*w; p++ {
				plane[p] = float32(r.sample(p*c + ch))
			}
		})
		inParallel(h, func(y0, y1 int) { kbResidual(res, plane, w, h, y0, y1) })
		boxFilter(res, plane, w, h, 1)
		inParallel(h, func(y0, y1 int) {
			for p := y0 * w; p < y1*w; p++ {
				res[p] = 1 / (res[p] + hillEpsilon)
			}
		})
		boxFilter(res, plane, w, h, 7)
		inParallel(h, func(y0, y1 int) {
			for p := y0 * w; p < y1*w; p++ {
				rho[p*c+ch] = float32(min(float64(res[p]), hillMaxCost))
			}
		})
	}
	return rho, nil
}

// inParallel splits [0, n) into up to GOMAXPROCS ranges of at least 64
// and calls fn on each, on a goroutine of its own; it returns when every
// call has.
func inParallel(n int, fn func(from, to int)) {
	parts := max(1, min(runtime.GOMAXPROCS(0), n/64))
	if parts == 1 {
		fn(0, n) // no goroutine for a small image or one CPU
		return
	}
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { fn(i*n/parts, (i+1)*n/parts) })
	}
	wg.Wait()
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

// kbResidual sets rows [y0, y1) of res to |KB ∗ plane| (w×h), borders
// mirrored. The interior, all but one pixel's frame, needs no mirroring.
func kbResidual(res, plane []float32, w, h, y0, y1 int) {
	kb := func(x, y, xm, xp, ym, yp int) {
		v := -plane[ym*w+xm] + 2*plane[ym*w+x] - plane[ym*w+xp] +
			2*plane[y*w+xm] - 4*plane[y*w+x] + 2*plane[y*w+xp] -
			plane[yp*w+xm] + 2*plane[yp*w+x] - plane[yp*w+xp]
		res[y*w+x] = float32(math.Abs(float64(v)))
	}
	for y := y0; y < y1; y++ {
		ym, yp := mirror(y-1, h), mirror(y+1, h)
		if y == 0 || y == h-1 || w < 3 {
			for x := range w {
				kb(x, y, mirror(x-1, w), mirror(x+1, w), ym, yp)
			}
			continue
		}
		kb(0, y, mirror(-1, w), 1, ym, yp)
		up, row, down := plane[ym*w:ym*w+w], plane[y*w:y*w+w], plane[yp*w:yp*w+w]
		out := res[y*w : y*w+w]
		for x := 1; x < w-1; x++ {
			v := -up[x-1] + 2*up[x] - up[x+1] +
				2*row[x-1] - 4*row[x] + 2*row[x+1] -
				down[x-1] + 2*down[x] - down[x+1]
			out[x] = float32(math.Abs(float64(v)))
		}
		kb(w-1, y, w-2, mirror(w, w), ym, yp)
	}
}

// boxFilter replaces a (w×h) by its (2r+1)×(2r+1) mean with mirrored
// borders, using tmp (w·h) as scratch. Both passes slide a window sum
// (float64) along rows, so memory is read in order: the vertical pass
// keeps one running sum per column. Rows, then columns, are split over
// goroutines (inParallel).
func boxFilter(a, tmp []float32, w, h, r int) {
	k := float64(2*r + 1)
	// rows: a → tmp
	inParallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := a[y*w : y*w+w]
			out := tmp[y*w : y*w+w]
			var sum float64
			for i := -r; i <= r; i++ {
				sum += float64(row[mirror(i, w)])
			}
			for x := range w {
				out[x] = float32(sum / k)
				add, drop := x+r+1, x-r
				if add >= w {
					add = mirror(add, w)
				}
				if drop < 0 {
					drop = mirror(drop, w)
				}
				sum += float64(row[add]) - float64(row[drop])
			}
		}
	})
	// columns: tmp → a
	inParallel(w, func(x0, x1 int) {
		sums := make([]float64, x1-x0)
		for i := -r; i <= r; i++ {
			row := tmp[mirror(i, h)*w:][x0:x1]
			for x, v := range row {
				sums[x] += float64(v)
			}
		}
		for y := range h {
			out := a[y*w:][x0:x1]
			for x, v := range sums {
				out[x] = float32(v / k)
			}
			add, drop := tmp[mirror(y+r+1, h)*w:][x0:x1], tmp[mirror(y-r, h)*w:][x0:x1]
			for x := range sums {
				sums[x] += float64(add[x]) - float64(drop[x])
			}
		}
	})
}
