package stego

import (
	"context"
	"math"
	"slices"
)

// Syndrome-trellis codes (Filler, Judas & Fridrich, "Minimizing additive
// distortion in steganography using syndrome-trellis codes", IEEE TIFS
// 2011), binary: the message is the syndrome H·y of the stego LSBs y, and
// the embedder finds, by the Viterbi algorithm over the code's trellis,
// the y with that syndrome whose flips (y_i ≠ x_i) cost least.
//
// H (m×n) is a band of copies of an h×w_i submatrix Ĥ: block i (message
// bit i) owns the columns cols(i) = [⌊i·n/m⌋, ⌊(i+1)·n/m⌋), so every
// block is w or w+1 columns wide for w = ⌊n/m⌋, and the column of cover
// element j in block i is the h-bit word stcColumn(h, w_i, j - ⌊i·n/m⌋)
// placed at rows i … i+h-1 (bit 0 on row i), cut off below row m. So
// extraction is a shift register: xor the columns of the set LSBs of a
// block into an h-bit state, output its bit 0, shift right.
//
// The columns are fixed, not keyed: the positions are already keyed and
// the data sealed, a key-dependent code would hide nothing more, and a
// fixed one is the same for every key, so its efficiency is tested once
// (TestSTCEfficiency). Each column has its top and bottom bits set, as
// the reference's good codes do: a column without bit 0 would not touch
// the row being decided, one without bit h-1 would leave the band's
// last row weaker.
//
// h is the constraint height. The Viterbi step does 2^(h-1) pair updates
// per cover element and keeps 2^h path bits per element. Measured
// (TestSTCEfficiency, n = 40,000): h = 7 reaches 82–87% of the
// payload–distortion bound for HILL-like costs at rates 1/2 to 1/20
// (74–88% for constant costs), h = 10 reaches 87–92% for 8× the time and
// path memory. h = 7, the reference's usual choice, is the speed point:
// the last few percent of distortion are not worth an 8× slower hide.
const (
	stcHeight    = 7
	maxSTCHeight = 16 // what a header may declare; the embedder uses stcHeight
)

// stcColumn is column j of the submatrix for blocks of width w.
func stcColumn(h, w, j int) uint32 {
	mask := uint32(1)<<h - 1
	c := uint32(mix(0x5354435f636f6c00^uint64(w)<<20^uint64(j))) & mask
	return c | 1 | 1<<(h-1)
}

// stcColumns returns the submatrix columns for both widths a segment of
// n cover elements and m message bits uses (⌊n/m⌋ and ⌊n/m⌋+1).
func stcColumns(h, n, m int) (narrow, wide []uint32, w int) {
	return new(stcColumnCache).columns(h, n, m)
}

// stcColumnCache keeps the columns of the last segment's widths, so that
// segments of one width (most of an image's) share them, and their memory
// is allocated once: a segment carrying few bits has wide blocks, up to 8
// bytes of columns per element.
type stcColumnCache struct {
	h, w         int
	narrow, wide []uint32
}

// columns is stcColumns(h, n, m), kept in c until the next call.
func (c *stcColumnCache) columns(h, n, m int) (narrow, wide []uint32, w int) {
	w = n / m
	if c.narrow != nil && c.h == h && c.w == w {
		return c.narrow, c.wide, w
	}
	c.h, c.w = h, w
	c.narrow, c.wide = slices.Grow(c.narrow[:0], w)[:w], slices.Grow(c.wide[:0], w+1)[:w+1]
	for j := range c.narrow {
		c.narrow[j] = stcColumn(h, w, j)
	}
	for j := range c.wide {
		c.wide[j] = stcColumn(h, w+1, j)
	}
	return c.narrow, c.wide, w
}

// stcExtract computes the m-bit syndrome of the LSBs y (one per byte,
// 0 or 1) and calls out(i, bit) for each message bit. 1 ≤ m ≤ len(y).
// cache keeps the columns for the next call.
func stcExtract(h int, y []byte, m int, cache *stcColumnCache, out func(i int, bit byte)) {
	n := len(y)
	narrow, wide, w := cache.columns(h, n, m)
	var state uint32
	for i := range m {
		from, to := i*n/m, (i+1)*n/m
		cols := narrow
		if to-from > w {
			cols = wide
		}
		for j, yy := range y[from:to] {
			if yy != 0 {
				state ^= cols[j]
			}
		}
		out(i, byte(state&1))
		state >>= 1
	}
}

// stcEmbed finds the stego LSBs for cover LSBs x (one per byte, 0 or 1),
// flip costs rho (+Inf: never flip) and message bits msg (one per byte),
// 1 ≤ len(msg) ≤ len(x). It writes y into x in place and returns the
// total cost. path is scratch of at least len(x)·stcWords(h) words (the
// back-pointers: 2^h bits per cover element), reused between calls. It
// returns ctx.Err() if ctx ends first, checked every few thousand
// elements; x is then unchanged. An infinite cost means no y avoids a
// wet element: the caller makes sure one does.
func stcEmbed(ctx context.Context, h int, x []byte, rho []float32, msg []byte, path []uint64) (float64, error) {
	n, m := len(x), len(msg)
	narrow, wide, w := stcColumns(h, n, m)
	states := 1 << h
	words := stcWords(h)
	inf := float32(math.Inf(1))
	wght := make([]float32, max(states, 128))
	next := make([]float32, max(states, 128))
	for k := range wght {
		wght[k] = inf
	}
	wght[0] = 0
	idx := 0
	for i := range m {
		if i&63 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		from, to := i*n/m, (i+1)*n/m
		cols := narrow
		if to-from > w {
			cols = wide
		}
		if states <= 128 {
			a, b := (*[128]float32)(wght[:128]), (*[128]float32)(next[:128])
			if states == 128 {
				stcColumns128(cols[:to-from], x[idx:to], rho[idx:to], path[idx*words:to*words], a, b)
			} else {
				stcColumnsSmall(cols[:to-from], x[idx:to], rho[idx:to], path[idx*words:to*words], words, a, b, states)
			}
			if (to-from)%2 == 1 {
				wght, next = next, wght
			}
			idx = to
		} else {
			for j := range to - from {
				col := cols[j]
				// y = 0 costs rho if x = 1; y = 1 costs rho if x = 0.
				var c0, c1 float32
				if x[idx] == 0 {
					c1 = rho[idx]
				} else {
					c0 = rho[idx]
				}
				p := path[idx*words : idx*words+words]
				for q := range p {
					p[q] = 0
				}
				// col has bit 0 set, so k and k^col pair an even state
				// with an odd one: one load of each serves both.
				for k := 0; k < states; k += 2 {
					k2 := k ^ int(col)
					a, b := wght[k], wght[k2]
					v0, v1 := a+c0, b+c1
					if v1 < v0 {
						next[k] = v1
						p[k>>6] |= 1 << (k & 63)
					} else {
						next[k] = v0
					}
					v0, v1 = b+c0, a+c1
					if v1 < v0 {
						next[k2] = v1
						p[k2>>6] |= 1 << (k2 & 63)
					} else {
						next[k2] = v0
					}
				}
				wght, next = next, wght
				idx++
			}
		}
		// Row i is complete: keep the states whose bit 0 is the message
		// bit and shift it out.
		bit := int(msg[i])
		for k := 0; k < states/2; k++ {
			wght[k] = wght[2*k+bit]
		}
		for k := states / 2; k < states; k++ {
			wght[k] = inf
		}
	}
	// The last h-1 rows lie below the matrix: any final state will do.
	best := 0
	for k := 1; k < states/2; k++ {
		if wght[k] < wght[best] {
			best = k
		}
	}
	cost := float64(wght[best])
	state := best
	idx = n - 1
	for i := m - 1; i >= 0; i-- {
		state = state<<1 | int(msg[i])
		from, to := i*n/m, (i+1)*n/m
		cols := narrow
		if to-from > w {
			cols = wide
		}
		for j := to - from - 1; j >= 0; j-- {
			y := byte(path[idx*words+state>>6] >> (state & 63) & 1)
			if y != 0 {
				state ^= int(cols[j])
			}
			x[idx] = y
			idx--
		}
	}
	return cost, nil
}

// stcColumnsSmall is the Viterbi step of stcEmbed over one block's
// columns for h ≤ 7, on fixed-size arrays so that the compiler drops
// the bounds checks (states beyond 2^h stay unused), and without
// branches on the comparisons, which are coin flips to a predictor. The
// weights alternate between a and b, column by column, starting in a.
func stcColumnsSmall(cols []uint32, x []byte, rho []float32, path []uint64, words int, a, b *[128]float32, states int) {
	for j, col := range cols {
		var c0, c1 float32
		if x[j] == 0 {
			c1 = rho[j]
		} else {
			c0 = rho[j]
		}
		// States k < 64 have their path bits in word 0; k^col is in the
		// same word as k unless col has bit 6 set.
		var pw [2]uint64
		cross := int(col>>6) & 1
		for half := 0; half*64 < states; half++ {
			var pk, pk2 uint64
			for k := half * 64; k < min(states, half*64+64); k += 2 {
				k1 := k & 127
				k2 := (k ^ int(col)) & 127
				wa, wb := a[k1], a[k2]
				v0, v1 := wa+c0, wb+c1
				u0, u1 := wb+c0, wa+c1
				b[k1] = min(v0, v1)
				b[k2] = min(u0, u1)
				pk |= uint64(b2u(v1 < v0)) << (k1 & 63)
				pk2 |= uint64(b2u(u1 < u0)) << (k2 & 63)
			}
			pw[half&1] |= pk
			pw[(half^cross)&1] |= pk2
		}
		path[j*words] = pw[0]
		if words > 1 {
			path[j*words+1] = pw[1]
		}
		a, b = b, a
	}
}

// b2u is 1 for true; the compiler makes it a SETcc.
func b2u(c bool) uint8 {
	var v uint8
	if c {
		v = 1
	}
	return v
}

// stcWords is the number of path words per cover element.
func stcWords(h int) int { return max(1, (1<<h)/64) }
