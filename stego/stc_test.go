package stego

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSTCRoundTrip embeds random messages into random covers with random
// costs, over many sizes (tiny, odd, rate 1 to 1/300), and checks that
// extraction gives the message back and that the reported cost is the
// cost of the flips made.
func TestSTCRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][2]int{{1, 1}, {2, 1}, {3, 2}, {7, 7}, {8, 3}, {13, 5}, {64, 1}, {100, 50}, {101, 50}, {255, 17}, {1000, 999}, {4099, 37}, {30000, 100}, {20000, 10000}}
	for range 40 {
		m := 1 + rng.IntN(300)
		cases = append(cases, [2]int{m + rng.IntN(m*20), m})
	}
	for _, h := range []int{1, 2, 5, stcHeight, 9} {
		for _, c := range cases {
			n, m := c[0], c[1]
			x := make([]byte, n)
			rho := make([]float32, n)
			for i := range x {
				x[i] = byte(rng.IntN(2))
				rho[i] = float32(rng.ExpFloat64())
			}
			msg := make([]byte, m)
			for i := range msg {
				msg[i] = byte(rng.IntN(2))
			}
			y := append([]byte(nil), x...)
			path := make([]uint64, n*stcWords(h))
			cost, err := stcEmbed(context.Background(), h, y, rho, msg, path)
			if err != nil {
				t.Fatal(err)
			}
			var got float64
			for i := range x {
				if x[i] != y[i] {
					got += float64(rho[i])
				}
			}
			if math.Abs(got-cost) > 1e-3*math.Max(1, cost) {
				t.Errorf("h=%d n=%d m=%d: cost %g, flips cost %g", h, n, m, cost, got)
			}
			stcExtract(h, y, m, new(stcColumnCache), func(i int, bit byte) {
				if bit != msg[i] {
					t.Fatalf("h=%d n=%d m=%d: bit %d is %d, want %d", h, n, m, i, bit, msg[i])
				}
			})
		}
	}
}

// TestSTCColumns128 checks that stcColumns128 (AVX2 assembly on amd64
// CPUs that have it) gives exactly the weights and path bits of the
// scalar stcColumnsSmall: random columns, costs that include 0 (ties),
// +Inf (wet) and equal neighbours, start weights with +Inf states, and
// block widths from 1 up, so both weight arrays end up holding results.
func TestSTCColumns128(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	inf := float32(math.Inf(1))
	for trial := range 300 {
		w := 1 + rng.IntN(70)
		cols := make([]uint32, w)
		for j := range cols {
			cols[j] = stcColumn(stcHeight, w, j)
			if trial%3 == 0 {
				cols[j] = rng.Uint32()&127 | 1 // any odd column
			}
		}
		x, rho := make([]byte, w), make([]float32, w)
		for j := range x {
			x[j] = byte(rng.IntN(2))
			switch rng.IntN(6) {
			case 0:
				rho[j] = 0
			case 1:
				rho[j] = inf
			case 2:
				rho[j] = 1
			default:
				rho[j] = float32(rng.ExpFloat64())
			}
		}
		var a [2][128]float32
		for k := range a[0] {
			switch rng.IntN(4) {
			case 0:
				a[0][k] = inf
			case 1:
				a[0][k] = float32(rng.IntN(3))
			default:
				a[0][k] = float32(rng.ExpFloat64() * 10)
			}
		}
		b := a
		pathA, pathB := make([]uint64, 2*w), make([]uint64, 2*w)
		stcColumns128(cols, x, rho, pathA, &a[0], &a[1])
		stcColumnsSmall(cols, x, rho, pathB, 2, &b[0], &b[1], 128)
		for j := range pathA {
			if pathA[j] != pathB[j] {
				t.Fatalf("trial %d (w=%d): path word %d is %#x, want %#x", trial, w, j, pathA[j], pathB[j])
			}
		}
		for side := range a {
			for k := range a[side] {
				if math.Float32bits(a[side][k]) != math.Float32bits(b[side][k]) {
					t.Fatalf("trial %d (w=%d): weight %d of array %d is %v, want %v", trial, w, k, side, a[side][k], b[side][k])
				}
			}
		}
	}
}

// binaryEntropy in bits.
func binaryEntropy(p float64) float64 {
	if p <= 0 || p >= 1 {
		return 0
	}
	return -p*math.Log2(p) - (1-p)*math.Log2(1-p)
}

// boundDistortion is the least expected cost of carrying m bits with
// binary flips of costs rho (the payload-limited sender's Gibbs
// distribution p_i = 1/(1+e^{λρ_i}), λ found by bisection).
func boundDistortion(rho []float32, m int) float64 {
	lo, hi := 1e-6, 1e6
	var d float64
	for range 200 {
		l := math.Sqrt(lo * hi)
		var hsum float64
		d = 0
		for _, r := range rho {
			p := 1 / (1 + math.Exp(l*float64(r)))
			hsum += binaryEntropy(p)
			d += p * float64(r)
		}
		if hsum > float64(m) {
			lo = l
		} else {
			hi = l
		}
	}
	return d
}

// TestSTCEfficiency checks that the code embeds near the
// payload–distortion bound: constant costs (the bound is the classic
// m/H⁻¹(m/n) changes) and HILL-like heavy-tailed costs, at rates 1/2 to
// 1/20.
func TestSTCEfficiency(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 40000
	for _, profile := range []string{"constant", "heavy-tailed"} {
		for _, rate := range []float64{0.5, 0.25, 0.1, 0.05} {
			m := int(rate * float64(n))
			x := make([]byte, n)
			rho := make([]float32, n)
			for i := range x {
				x[i] = byte(rng.IntN(2))
				rho[i] = 1
				if profile != "constant" {
					rho[i] = float32(1 / (0.02 + rng.Float64()*rng.Float64()))
				}
			}
			msg := make([]byte, m)
			for i := range msg {
				msg[i] = byte(rng.IntN(2))
			}
			path := make([]uint64, n*stcWords(stcHeight))
			cost, err := stcEmbed(context.Background(), stcHeight, append([]byte(nil), x...), rho, msg, path)
			if err != nil {
				t.Fatal(err)
			}
			bound := boundDistortion(rho, m)
			t.Logf("%s costs, rate %.2f: cost %.1f, bound %.1f, bound/cost %.3f", profile, rate, cost, bound, bound/cost)
			if bound/cost < 0.72 {
				t.Errorf("%s costs, rate %.2f: cost %.1f is more than 1/0.72 of the bound %.1f", profile, rate, cost, bound)
			}
		}
	}
}

// BenchmarkSTCEmbed: one full segment at rate 1/10, h = stcHeight.
func BenchmarkSTCEmbed(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	n, m := adaptiveSegment, adaptiveSegment/10
	x, rho, msg := make([]byte, n), make([]float32, n), make([]byte, m)
	for i := range x {
		x[i], rho[i] = byte(rng.IntN(2)), float32(rng.ExpFloat64())
	}
	for i := range msg {
		msg[i] = byte(rng.IntN(2))
	}
	path := make([]uint64, n*stcWords(stcHeight))
	y := make([]byte, n)
	b.SetBytes(int64(n))
	for b.Loop() {
		copy(y, x)
		if _, err := stcEmbed(context.Background(), stcHeight, y, rho, msg, path); err != nil {
			b.Fatal(err)
		}
	}
}
