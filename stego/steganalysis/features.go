package steganalysis

import (
	"fmt"
	"sync"
)

// Feature layout. The vector is SPAM, then SRM, then colour; every block
// is a normalised histogram (or, for SPAM, transition probabilities), so
// the values do not depend on the image size.
const (
	spamT      = 3
	spamBins   = (2*spamT + 1) * (2*spamT + 1) * (2*spamT + 1) // 343
	SPAMDim    = 2 * spamBins                                  // 686
	srmT       = 2
	srmSymDim  = 169                                      // 5^4 co-occurrences under sign and reversal symmetry
	srmRevDim  = 325                                      // 5^4 co-occurrences under reversal symmetry only
	srmSpams   = 5                                        // S1, S2, S3, SQUARE3, SQUARE5
	srmMinmax  = 4                                        // 1st, 2nd, 3rd order and EDGE3 min/max
	SRMDim     = srmSpams*srmSymDim + srmMinmax*srmRevDim // 2145
	colorT     = 3
	colorSym   = 172                   // 7^3 cross-channel triples under sign symmetry
	colorKinds = 3                     // 1st order, 2nd order, SQUARE3
	ColorDim   = colorKinds * colorSym // 516
	// Dim is the length of the vector Features returns.
	Dim = SPAMDim + SRMDim + ColorDim // 3347
)

// Offsets of the three blocks in the feature vector.
const (
	OffsetSPAM  = 0
	OffsetSRM   = SPAMDim
	OffsetColor = SPAMDim + SRMDim
)

// symmetry tables, computed once; they are constants in all but syntax
// and nothing writes to them after init.
var (
	symSR    = buildSym4(true)  // sign + reversal
	symR     = buildSym4(false) // reversal only (min/max merged by sign)
	symColor = buildSymColor()
)

func buildSym4(sign bool) []int {
	const n = 2*srmT + 1
	tab := make([]int, n*n*n*n)
	for i := range tab {
		tab[i] = -1
	}
	next := 0
	idx := func(a, b, c, d int) int { return ((a*n+b)*n+c)*n + d }
	for a := 0; a < n; a++ {
		for b := 0; b < n; b++ {
			for c := 0; c < n; c++ {
				for d := 0; d < n; d++ {
					i := idx(a, b, c, d)
					if tab[i] >= 0 {
						continue
					}
					orbit := []int{i, idx(d, c, b, a)}
					if sign {
						m := n - 1
						orbit = append(orbit, idx(m-a, m-b, m-c, m-d), idx(m-d, m-c, m-b, m-a))
					}
					for _, j := range orbit {
						tab[j] = next
					}
					next++
				}
			}
		}
	}
	want := srmRevDim
	if sign {
		want = srmSymDim
	}
	if next != want {
		panic(fmt.Sprintf("steganalysis: symmetry classes %d, want %d", next, want))
	}
	return tab
}

func buildSymColor() []int {
	const n = 2*colorT + 1
	tab := make([]int, n*n*n)
	for i := range tab {
		tab[i] = -1
	}
	next := 0
	for i := range tab {
		if tab[i] >= 0 {
			continue
		}
		a, b, c := i/(n*n), i/n%n, i%n
		j := ((n-1-a)*n+(n-1-b))*n + (n - 1 - c)
		tab[i], tab[j] = next, next
		next++
	}
	if next != colorSym {
		panic(fmt.Sprintf("steganalysis: colour classes %d, want %d", next, colorSym))
	}
	return tab
}

// Features computes the feature vector of s (length Dim). For a gray
// image (one channel) the colour block is all zeros: there are no
// cross-channel residuals to count.
func Features(s Samples) ([]float32, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	ps := s.planes()
	w, h := s.Width, s.Height
	f := make([]float64, Dim)
	e := newExtractor(w, h)
	for _, p := range ps {
		e.spam(f[OffsetSPAM:OffsetSRM], p)
	}
	for i := OffsetSPAM; i < OffsetSRM; i++ {
		f[i] /= float64(len(ps))
	}
	srmCounts := make([]float64, SRMDim)
	// colour planes per channel: 1st h, 1st v, 2nd h, 2nd v, SQUARE3
	var color [3][][]uint8
	for c, p := range ps {
		if len(ps) == 3 {
			color[c] = make([][]uint8, 5)
			for k := range color[c] {
				color[c][k] = make([]uint8, w*h)
			}
		}
		e.srm(srmCounts, p, color[c])
	}
	normalizeBlocks(srmCounts, []int{srmSymDim, srmSymDim, srmSymDim, srmSymDim, srmSymDim, srmRevDim, srmRevDim, srmRevDim, srmRevDim})
	copy(f[OffsetSRM:], srmCounts)
	if len(ps) == 3 {
		col := f[OffsetColor:]
		for k, pair := range [colorKinds][2]int{{0, 1}, {2, 3}, {4, -1}} {
			h := col[k*colorSym : (k+1)*colorSym]
			for _, pi := range pair {
				if pi >= 0 {
					crossCooc(h, color[0][pi], color[1][pi], color[2][pi], e)
				}
			}
			normalizeBlocks(h, []int{colorSym})
		}
	}
	out := make([]float32, Dim)
	for i, v := range f {
		out[i] = float32(v)
	}
	return out, nil
}

func normalizeBlocks(f []float64, sizes []int) {
	off := 0
	for _, n := range sizes {
		var sum float64
		for _, v := range f[off : off+n] {
			sum += v
		}
		if sum > 0 {
			for i := off; i < off+n; i++ {
				f[i] /= sum
			}
		}
		off += n
	}
}

// spam adds the second-order SPAM features (Pevný, Bas & Fridrich 2010)
// of one channel to f: transition probabilities of differences truncated
// to ±3 along 8 directions, averaged over the 4 straight and over the 4
// diagonal ones. Opposite directions come from the same triples counted
// forwards: walking left is walking right reversed and negated.
func (e *extractor) spam(f []float64, p []int32) {
	w, h := e.w, e.h
	type dir struct{ dy, dx int }
	dirs := [4]dir{{0, 1}, {1, 0}, {1, 1}, {1, -1}}
	const n = 2*spamT + 1
	for di, d := range dirs {
		var cnt [spamBins]float64
		step := d.dy*w + d.dx
		// pixels p, p+d, p+2d, p+3d must all be inside
		x0, x1 := 0, w
		if d.dx > 0 {
			x1 = w - 3*d.dx
		} else if d.dx < 0 {
			x0 = -3 * d.dx
		}
		y1 := h - 3*d.dy
		// clamped differences, computed once per pixel: diff[i] = clamp(p[i]-p[i+step])
		diff := make([]uint8, w*h)
		dx0, dx1 := max(0, -d.dx), w-max(0, d.dx)
		e.rows(0, h-d.dy, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				row := y * w
				dd := diff[row+dx0 : row+dx1]
				a := p[row+dx0 : row+dx1]
				b := p[row+dx0+step : row+dx1+step]
				for x := range dd {
					dd[x] = uint8(clampT(a[x]-b[x], spamT))
				}
			}
		})
		var (
			mu sync.Mutex
			c3 [spamBins]uint32
		)
		e.rows(0, y1, func(y0, y1 int) {
			var part [spamBins]uint32
			for y := y0; y < y1; y++ {
				row := y*w + x0
				m := x1 - x0
				a := diff[row : row+m]
				b := diff[row+step : row+step+m]
				c := diff[row+2*step : row+2*step+m]
				for x := range a {
					part[(int(a[x])*n+int(b[x]))*n+int(c[x])]++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range part {
				c3[k] += v
			}
		})
		for k, v := range c3 {
			cnt[k] = float64(v)
		}
		// forward and reversed-negated walks
		var rev [spamBins]float64
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				for c := 0; c < n; c++ {
					rev[((n-1-c)*n+(n-1-b))*n+(n-1-a)] = cnt[(a*n+b)*n+c]
				}
			}
		}
		block := f[0:spamBins]
		if di >= 2 {
			block = f[spamBins : 2*spamBins]
		}
		for _, m := range [2]*[spamBins]float64{&cnt, &rev} {
			for ab := 0; ab < n*n; ab++ {
				var sum float64
				for c := 0; c < n; c++ {
					sum += m[ab*n+c]
				}
				if sum == 0 {
					continue
				}
				for c := 0; c < n; c++ {
					block[ab*n+c] += m[ab*n+c] / sum / 4
				}
			}
		}
	}
}

// clampT truncates d to [-t, t] and shifts it to [0, 2t].
func clampT(d int32, t int32) int32 {
	if d > t {
		d = t
	} else if d < -t {
		d = -t
	}
	return d + t
}
