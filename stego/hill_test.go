package stego

import (
	"context"
	"math"
	"testing"
)

// TestHillCosts checks hillCosts against the formula computed directly
// in float64 — every sum spelled out, every index mirrored — on images
// smaller and larger than the 15×15 window, flat ones included (costs
// capped at hillMaxCost).
func TestHillCosts(t *testing.T) {
	for _, tc := range []struct {
		w, h, c int
		flat    bool
	}{{1, 1, 1, false}, {2, 3, 3, false}, {7, 5, 1, false}, {16, 16, 3, false}, {40, 23, 3, false}, {23, 40, 1, true}} {
		r := noiseRaster(tc.w, tc.h, tc.c, false, false, uint64(tc.w*tc.h))
		if tc.flat {
			for i := range r.pix {
				r.pix[i] = 100
			}
		}
		got, err := hillCosts(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		w, h := tc.w, tc.h
		mean := func(f func(x, y int) float64, x, y, rad int) float64 {
			var s float64
			for dy := -rad; dy <= rad; dy++ {
				for dx := -rad; dx <= rad; dx++ {
					s += f(mirror(x+dx, w), mirror(y+dy, h))
				}
			}
			return s / float64((2*rad+1)*(2*rad+1))
		}
		for ch := range tc.c {
			px := func(x, y int) float64 { return float64(r.sample((mirror(y, h)*w+mirror(x, w))*tc.c + ch)) }
			kb := func(x, y int) float64 {
				return math.Abs(-px(x-1, y-1) + 2*px(x, y-1) - px(x+1, y-1) +
					2*px(x-1, y) - 4*px(x, y) + 2*px(x+1, y) -
					px(x-1, y+1) + 2*px(x, y+1) - px(x+1, y+1))
			}
			inv := func(x, y int) float64 { return 1 / (mean(kb, x, y, 1) + hillEpsilon) }
			for y := range h {
				for x := range w {
					want := min(mean(inv, x, y, 7), hillMaxCost)
					g := float64(got[(y*w+x)*tc.c+ch])
					if math.Abs(g-want) > 1e-4*want {
						t.Fatalf("%dx%dx%d: cost at (%d,%d) channel %d is %g, want %g", w, h, tc.c, x, y, ch, g, want)
					}
				}
			}
		}
	}
}
