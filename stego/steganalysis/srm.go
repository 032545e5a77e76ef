package steganalysis

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"
)

// SRM-style residual co-occurrences (Fridrich & Kodovský 2012, "Rich
// models for steganalysis of digital images"), reduced to nine
// submodels: the spam-type 1st-, 2nd- and 3rd-order, SQUARE 3×3 and
// SQUARE 5×5 residuals, and the min/max of the 1st-, 2nd-, 3rd-order and
// EDGE 3×3 residuals. Residuals are quantised with step q, truncated to
// ±2 and counted as 4-sample co-occurrences along rows and columns, which
// are then merged under the model's sign and reversal symmetries.

// tap is one kernel coefficient at a pixel offset.
type tap struct {
	dy, dx int
	w      int32
}

// Kernels. Directional ones come in the four orientations SRM uses;
// the 2nd order has only horizontal and vertical.
var (
	k1 = [4][]tap{
		{{0, 1, 1}, {0, 0, -1}},  // right
		{{0, -1, 1}, {0, 0, -1}}, // left
		{{1, 0, 1}, {0, 0, -1}},  // down
		{{-1, 0, 1}, {0, 0, -1}}, // up
	}
	k2 = [2][]tap{
		{{0, -1, 1}, {0, 1, 1}, {0, 0, -2}},
		{{-1, 0, 1}, {1, 0, 1}, {0, 0, -2}},
	}
	k3 = [4][]tap{
		{{0, 2, -1}, {0, 1, 3}, {0, 0, -3}, {0, -1, 1}},
		{{0, -2, -1}, {0, -1, 3}, {0, 0, -3}, {0, 1, 1}},
		{{2, 0, -1}, {1, 0, 3}, {0, 0, -3}, {-1, 0, 1}},
		{{-2, 0, -1}, {-1, 0, 3}, {0, 0, -3}, {1, 0, 1}},
	}
	kSquare3 = []tap{
		{-1, -1, -1}, {-1, 0, 2}, {-1, 1, -1},
		{0, -1, 2}, {0, 0, -4}, {0, 1, 2},
		{1, -1, -1}, {1, 0, 2}, {1, 1, -1},
	}
	kSquare5 = square5()
	kEdge3   = [4][]tap{
		{{-1, -1, -1}, {-1, 0, 2}, {-1, 1, -1}, {0, -1, 2}, {0, 0, -4}, {0, 1, 2}}, // up half
		{{1, -1, -1}, {1, 0, 2}, {1, 1, -1}, {0, -1, 2}, {0, 0, -4}, {0, 1, 2}},    // down half
		{{-1, -1, -1}, {0, -1, 2}, {1, -1, -1}, {-1, 0, 2}, {0, 0, -4}, {1, 0, 2}}, // left half
		{{-1, 1, -1}, {0, 1, 2}, {1, 1, -1}, {-1, 0, 2}, {0, 0, -4}, {1, 0, 2}},    // right half
	}
)

// square5 is the KV kernel of SRM's SQUARE 5×5 residual.
func square5() []tap {
	m := [5][5]int32{
		{-1, 2, -2, 2, -1},
		{2, -6, 8, -6, 2},
		{-2, 8, -12, 8, -2},
		{2, -6, 8, -6, 2},
		{-1, 2, -2, 2, -1},
	}
	var t []tap
	for y := 0; y < 5; y++ {
		for x := 0; x < 5; x++ {
			t = append(t, tap{y - 2, x - 2, m[y][x]})
		}
	}
	return t
}

// Quantisation steps. SRM uses c·{1, 1.5, 2} for a kernel of order c;
// we keep one step per residual, the smallest that is not dominated by
// rounding at T = 2.
const (
	q1, q2, q3, qSquare3, qSquare5, qEdge3 = 1, 2, 3, 4, 12, 3
	margin                                 = 2 // widest kernel reach
)

// extractor holds scratch buffers for one image size.
type extractor struct {
	w, h       int
	workers    int // goroutines a pass over the rows splits into
	bufs       [10][]int32
	planes     [1][]uint8
	minR, maxR []int32
	minP, maxP []uint8
	scratch    []float64
	qplanes    [8][]uint8
}

func newExtractor(w, h int) *extractor {
	n := w * h
	e := &extractor{w: w, h: h, workers: min(runtime.GOMAXPROCS(0), maxRowParts), minR: make([]int32, n), maxR: make([]int32, n), minP: make([]uint8, n), maxP: make([]uint8, n)}
	for i := range e.bufs {
		e.bufs[i] = make([]int32, n)
	}
	e.planes[0] = make([]uint8, n)
	e.scratch = make([]float64, 625)
	for i := range e.qplanes {
		e.qplanes[i] = make([]uint8, n)
	}
	return e
}

// minRowsPerPart keeps a pass over few rows on one goroutine.
const minRowsPerPart = 16

// maxRowParts caps how many goroutines a pass splits into. Each costs a
// few small allocations per pass, hundreds of passes per image: without
// a cap, what Features allocates would grow with the machine's CPUs and
// WorkingBytes could not bound it (TestWorkingBytesBound runs at 256).
// A region of at most 1024 rows gains little from more.
const maxRowParts = 16

// rows runs fn over the rows [y0, y1), split into up to e.workers
// ranges on goroutines of their own, and returns when all are done.
// Every pass split this way writes only its own rows of a plane, or
// adds integer counts, so its result does not depend on the split: the
// features are the same bits on one CPU or many.
func (e *extractor) rows(y0, y1 int, fn func(y0, y1 int)) {
	parts := max(1, min(e.workers, (y1-y0)/minRowsPerPart))
	if parts == 1 {
		fn(y0, y1)
		return
	}
	var wg sync.WaitGroup
	for i := range parts {
		a, b := y0+(y1-y0)*i/parts, y0+(y1-y0)*(i+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(a, b)
		}()
	}
	wg.Wait()
}

// residual computes the kernel response into dst over the region m
// pixels in from every edge, one kernel tap at a time over a whole row:
// tight loops free of bounds checks, several times faster than looping
// over taps per pixel.
func (e *extractor) residual(dst, p []int32, k []tap, m int) []int32 {
	return e.residualXY(dst, p, k, m, m, false)
}

// residualXY is residual with separate horizontal and vertical margins,
// adding to dst instead of overwriting it when acc is set.
func (e *extractor) residualXY(dst, p []int32, k []tap, mx, my int, acc bool) []int32 {
	w, h := e.w, e.h
	n := w - 2*mx
	e.rows(my, h-my, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			base := y*w + mx
			d := dst[base : base+n]
			if !acc {
				clear(d)
			}
			for _, t := range k {
				o := base + t.dy*w + t.dx
				src := p[o : o+n]
				src = src[:len(d)]
				wt := t.w
				for x := range d {
					d[x] += wt * src[x]
				}
			}
		}
	})
	return dst
}

// square5 computes the KV (SQUARE 5×5) residual. The kernel has rank 2:
// its rows are u, v, −2u−2v, v, u with u = (−1 2 −2 2 −1) and
// v = (2 −6 8 −6 2), so it is two separable filters, 16 row passes
// instead of 25.
func (e *extractor) square5(dst, p, hu, hv []int32) []int32 {
	e.residualXY(hu, p, kU, margin, 0, false)
	e.residualXY(hv, p, kV, margin, 0, false)
	e.residualXY(dst, hu, kC1, margin, margin, false)
	return e.residualXY(dst, hv, kC2, margin, margin, true)
}

var (
	kU  = []tap{{0, -2, -1}, {0, -1, 2}, {0, 0, -2}, {0, 1, 2}, {0, 2, -1}}
	kV  = []tap{{0, -2, 2}, {0, -1, -6}, {0, 0, 8}, {0, 1, -6}, {0, 2, 2}}
	kC1 = []tap{{-2, 0, 1}, {0, 0, -2}, {2, 0, 1}}
	kC2 = []tap{{-1, 0, 1}, {0, 0, -2}, {1, 0, 1}}
)

// combine sets dst = 2·a + b(shifted by ob) + c(shifted by oc) over the
// interior, the way SQUARE 3×3 and EDGE 3×3 residuals are built from the
// 2nd-order ones (their rows are 2nd-order kernels).
func (e *extractor) combine(dst, a, b, c []int32, ob, oc int) {
	w, h := e.w, e.h
	n := w - 2*margin
	e.rows(margin, h-margin, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			base := y*w + margin
			d, s := dst[base:base+n], a[base:base+n]
			sb := b[base+ob : base+ob+n]
			for x := range d {
				d[x] = 2*s[x] - sb[x]
			}
			if c != nil {
				sc := c[base+oc : base+oc+n]
				for x := range d {
					d[x] -= sc[x]
				}
			}
		}
	})
}

// quantize maps a residual to its bin 0..2t: round(r/q) away from zero,
// truncated to ±t, shifted by t. It is the reference; quantPlane is the
// fast version used on whole planes.
func quantize(r, q, t int32) uint8 {
	a := r
	if a < 0 {
		a = -a
	}
	a *= 2
	var v int32
	for v < t && a >= (2*v+1)*q {
		v++
	}
	if r < 0 {
		v = -v
	}
	return uint8(v + t)
}

func (e *extractor) quantPlane(dst []uint8, r []int32, q, t int32) {
	w, h := e.w, e.h
	n := w - 2*margin
	// Branch-free: v = [2|r| ≥ q] + [2|r| ≥ 3q] (+ [2|r| ≥ 5q] for T = 3),
	// then the sign restored; residual signs are random, so a branchy
	// version mispredicts about half the time.
	q1, q3, q5 := q, 3*q, 5*q
	if t < 3 {
		q5 = math.MaxInt32
	}
	e.rows(margin, h-margin, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			base := y*w + margin
			d := dst[base : base+n]
			s := r[base : base+n]
			s = s[:len(d)]
			for x := range d {
				v := s[x]
				sg := v >> 31
				a := ((v ^ sg) - sg) * 2
				k := b2i(a >= q1) + b2i(a >= q3) + b2i(a >= q5)
				d[x] = uint8((k ^ sg) - sg + t)
			}
		}
	})
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// cooc adds the 4-sample co-occurrences of plane p (bins 0..4) along
// rows (horiz) or columns to hist (625 bins). With flip every bin is
// mirrored (b → 4−b), which is how max planes join min planes under sign
// symmetry; mirroring all four digits of the base-5 index is 624 − index.
func (e *extractor) cooc(hist []float64, p []uint8, horiz, flip bool) {
	w, h := e.w, e.h
	step := w
	x1, y1 := w-margin, h-margin-3
	if horiz {
		step = 1
		x1, y1 = w-margin-3, h-margin
	}
	n := x1 - margin
	if n <= 0 {
		return
	}
	var (
		mu  sync.Mutex
		cnt [625]uint32
	)
	e.rows(margin, y1, func(y0, y1 int) {
		// Four sub-histograms, one per x mod 4: residuals of smooth
		// regions hit the same bin over and over, and incrementing one
		// counter in a chain stalls on each previous store.
		var cnt4 [4][625]uint32
		var pair [256]uint8 // on the stack: nothing allocated per call or per goroutine
		for y := y0; y < y1; y++ {
			for x0 := 0; x0 < n; x0 += len(pair) {
				base := y*w + margin + x0
				m := min(len(pair), n-x0)
				// pair[x] = 5·p[i] + p[i+step], then index = 25·pair[x] + 5·p[i+2·step] + p[i+3·step]
				pr := pair[:m]
				a := p[base : base+m]
				b := p[base+step : base+step+m]
				a, b = a[:len(pr)], b[:len(pr)]
				for x := range pr {
					pr[x] = a[x]*5 + b[x]
				}
				c := p[base+2*step : base+2*step+m]
				d := p[base+3*step : base+3*step+m]
				c, d = c[:len(pr)], d[:len(pr)]
				x := 0
				for ; x+4 <= len(pr); x += 4 {
					cnt4[0][int(pr[x])*25+int(c[x])*5+int(d[x])]++
					cnt4[1][int(pr[x+1])*25+int(c[x+1])*5+int(d[x+1])]++
					cnt4[2][int(pr[x+2])*25+int(c[x+2])*5+int(d[x+2])]++
					cnt4[3][int(pr[x+3])*25+int(c[x+3])*5+int(d[x+3])]++
				}
				for ; x < len(pr); x++ {
					cnt4[0][int(pr[x])*25+int(c[x])*5+int(d[x])]++
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for k := range cnt {
			cnt[k] += cnt4[0][k] + cnt4[1][k] + cnt4[2][k] + cnt4[3][k]
		}
	})
	if flip {
		for k, v := range cnt {
			hist[624-k] += float64(v)
		}
		return
	}
	for k, v := range cnt {
		hist[k] += float64(v)
	}
}

// fold adds the 625-bin histogram into its symmetry classes.
func fold(dst []float64, hist []float64, sym []int) {
	for i, v := range hist {
		dst[sym[i]] += v
		hist[i] = 0
	}
}

// srm adds one channel's SRM co-occurrence counts to f (length SRMDim)
// and, when color is non-nil, stores the channel's T = 3 planes for the
// colour features in it: 1st-order h and v, 2nd-order h and v, SQUARE3.
func (e *extractor) srm(f []float64, p []int32, color [][]uint8) {
	hist := e.scratch
	w := e.w
	off := 0
	b := &e.bufs
	qp := &e.qplanes
	// base residuals, computed once
	r1h := e.residual(b[0], p, k1[0], margin)
	r1v := e.residual(b[1], p, k1[2], margin)
	r2h := e.residual(b[2], p, k2[0], 1)
	r2v := e.residual(b[3], p, k2[1], 1)
	sq3 := b[4]
	e.combine(sq3, r2h, r2h, r2h, -w, w)
	r3h := e.residual(b[5], p, k3[0], margin)
	r3v := e.residual(b[6], p, k3[2], margin)
	// spam-type: horizontal residual along rows, vertical along columns
	spamHV := func(ph, pv []uint8) {
		e.cooc(hist, ph, true, false)
		e.cooc(hist, pv, false, false)
		fold(f[off:off+srmSymDim], hist, symSR)
		off += srmSymDim
	}
	for k, r := range [][]int32{r1h, r1v, r2h, r2v, r3h, r3v, sq3} {
		e.quantPlane(qp[k], r, []int32{q1, q1, q2, q2, q3, q3, qSquare3}[k], srmT)
	}
	spamHV(qp[0], qp[1])
	spamHV(qp[2], qp[3])
	spamHV(qp[4], qp[5])
	spamHV(qp[6], qp[6])
	e.quantPlane(qp[7], e.square5(b[7], p, b[8], b[9]), qSquare5, srmT)
	spamHV(qp[7], qp[7])
	if color != nil {
		for i, r := range [][]int32{r1h, r1v, r2h, r2v, sq3} {
			q := []int32{q1, q1, q2, q2, qSquare3}[i]
			e.quantPlane(color[i], r, q, colorT)
		}
	}
	// min/max submodels. Quantisation is monotone, so the quantised
	// extreme is the extreme of the quantised residuals, and a left (up)
	// residual is the mirrored right (down) one of the previous pixel:
	// the spam planes above serve without further quantisation. Max
	// planes are counted mirrored so that they join the min planes under
	// sign symmetry.
	type src struct {
		p      []uint8
		o      int
		mirror bool
	}
	minmax := func(srcs []src) {
		n := w - 2*margin
		e.rows(margin, e.h-margin, func(y0, y1 int) {
			for j, sr := range srcs {
				for y := y0; y < y1; y++ {
					base := y*w + margin
					s := sr.p[base+sr.o : base+sr.o+n]
					mn, mx := e.minP[base:base+n], e.maxP[base:base+n]
					mn, mx = mn[:len(s)], mx[:len(s)] // let the compiler drop bounds checks
					switch {
					case j == 0 && !sr.mirror:
						copy(mn, s)
						copy(mx, s)
					case j == 0:
						for x, v := range s {
							mn[x], mx[x] = 4-v, 4-v
						}
					default:
						minMaxInto(mn, mx, s, sr.mirror)
					}
				}
			}
		})
		e.cooc(hist, e.minP, true, false)
		e.cooc(hist, e.minP, false, false)
		e.cooc(hist, e.maxP, true, true)
		e.cooc(hist, e.maxP, false, true)
		fold(f[off:off+srmRevDim], hist, symR)
		off += srmRevDim
	}
	minmax([]src{{qp[0], 0, false}, {qp[0], -1, true}, {qp[1], 0, false}, {qp[1], -w, true}})
	minmax([]src{{qp[2], 0, false}, {qp[3], 0, false}})
	minmax([]src{{qp[4], 0, false}, {qp[4], -1, true}, {qp[5], 0, false}, {qp[5], -w, true}})
	// EDGE 3×3 halves: 2·(2nd order) minus the 2nd-order row/column beside
	for k, c := range [4][2]int{{-w, 0}, {w, 0}, {-1, 1}, {1, 1}} {
		r := r2h
		if c[1] == 1 {
			r = r2v
		}
		e.combine(b[5+k%3], r, r, nil, c[0], 0)
		e.quantPlane(qp[k], b[5+k%3], qEdge3, srmT)
	}
	minmax([]src{{qp[0], 0, false}, {qp[1], 0, false}, {qp[2], 0, false}, {qp[3], 0, false}})
}

// negShift sets dst[i] = -src[i+o] over the interior: the left residual
// at i is minus the right residual at i-1, and so on.
func (e *extractor) negShift(dst, src []int32, o int) {
	w, h := e.w, e.h
	n := w - 2*margin
	for y := margin; y < h-margin; y++ {
		base := y*w + margin
		d, s := dst[base:base+n], src[base+o:base+o+n]
		for x := range d {
			d[x] = -s[x]
		}
	}
}

// crossCooc adds the co-occurrences of the R, G and B residuals at the
// same pixel (the colour rich model's idea, Goljan, Fridrich & Cogranne
// 2014) to h, folded under sign symmetry.
func crossCooc(h []float64, r, g, b []uint8, e *extractor) {
	if r == nil {
		return
	}
	const n = 2*colorT + 1
	var cnt [n * n * n]float64
	w := e.w
	for y := margin; y < e.h-margin; y++ {
		for x := margin; x < w-margin; x++ {
			i := y*w + x
			cnt[(int(r[i])*n+int(g[i]))*n+int(b[i])]++
		}
	}
	for i, v := range cnt {
		h[symColor[i]] += v
	}
}

// minMaxInto sets mn = min(mn, v) and mx = max(mx, v) bytewise, where v
// is s or, with mirror, 4−s. Bins are below 128, so eight at a time fit
// in a uint64 with room for a borrow-free comparison (SWAR): the compiler
// does not vectorise the byte loop, and this is most of the min/max
// submodels' cost.
func minMaxInto(mn, mx, s []uint8, mirror bool) {
	const hi, fours = 0x8080808080808080, 0x0404040404040404
	n := len(s)
	mn, mx = mn[:n], mx[:n]
	x := 0
	for ; x+8 <= n; x += 8 {
		v := binary.LittleEndian.Uint64(s[x:])
		if mirror {
			v = fours - v // no borrow: every byte is ≤ 4
		}
		a := binary.LittleEndian.Uint64(mn[x:])
		ge := (((a | hi) - v) & hi) >> 7 * 0xff // 0xff where a ≥ v
		binary.LittleEndian.PutUint64(mn[x:], v&ge|a&^ge)
		b := binary.LittleEndian.Uint64(mx[x:])
		ge = (((b | hi) - v) & hi) >> 7 * 0xff
		binary.LittleEndian.PutUint64(mx[x:], b&ge|v&^ge)
	}
	for ; x < n; x++ {
		v := s[x]
		if mirror {
			v = 4 - v
		}
		mn[x] = min(mn[x], v)
		mx[x] = max(mx[x], v)
	}
}
