package stego

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
)

// JPEG-compatibility steganalysis (Fridrich, Goljan & Du, "Steganalysis
// based on JPEG compatibility", SPIE 2001).
//
// A JPEG decoder produces each 8×8 block (for colour, each MCU) from
// integer multiples of the quantisation steps: the pixels are
// round(IDCT(q·k)) for some integer k, and for colour they then pass
// through a deterministic YCbCr→RGB conversion. Almost no other 8×8
// pixel block can come out of a decoder. So an image that was decoded
// from a JPEG and then had single samples changed by ±1 — what a JPEG
// cover turned into a PNG by this package's embedder is — contains
// blocks that no JPEG decoder could have produced, and a careful
// analyst can even count the changed samples.
//
// The test, from pixels only:
//
//  1. Recover the decoder's Y, Cb, Cr per pixel by inverting
//     color.YCbCrToRGB exactly (jpegInvertRGB; image/draw uses that
//     conversion for every JPEG this package decodes). A float inverse
//     is not enough: its error is the same on every pixel of a flat
//     block, which moves the DC coefficient by up to 8 times as much.
//     Chroma is averaged over the subsampling cell: image/jpeg's
//     subsampled output is upsampled by repetition. The subsampling
//     (4:2:0, 4:4:4, 4:2:2, 4:4:0) is the one under which most of a
//     sample of MCUs decode exactly.
//  2. Transform the blocks with JPEG's orthonormal DCT, on the 8×8 grid
//     aligned at (0,0) (16×16 MCUs for 4:2:0). A decoded JPEG that was
//     not cropped is always aligned; crops off the grid, rescaled or
//     rotated-by-other-than-90° JPEGs are not recognised (the other 63
//     alignments are not tried: our covers are whole decoded JPEGs).
//  3. Estimate each component's 64 quantisation steps from a sample of
//     MCUs (jpegEstimateStep): the largest step q on whose non-zero
//     multiples at least 90% of the coefficients q would not round to
//     zero lie, within the decoding noise. (Fan & de Queiroz 2003 fit a
//     likelihood to the same histogram; the largest fitting lattice is
//     the cheap version, and a multiple of the true step fits only when
//     nearly every coefficient happens to be an even multiple.) The
//     evidence for "JPEG" is the number of luma frequencies with a
//     lattice of step 3 or more fitted on at least 20 coefficients.
//  4. Decide per MCU: round every coefficient to its lattice, decode
//     exactly as image/jpeg does (its integer IDCT, copied in
//     jpeg_idct.go; clamp; chroma repeated; color.YCbCrToRGB) and
//     compare with the pixels. Where the first candidate is off, the
//     most ambiguous coefficients are tried at their other neighbour.
//     An MCU is compatible when a candidate reproduces it exactly,
//     "near" when the best candidate is off by exactly 1 in some
//     samples, "far" otherwise; MCUs with a sample at 0 or 255 are not
//     tested (clamping hides their coefficients).
//
// Near MCUs alone do not prove a change: at quality 90 and above the
// steps of 1–3 are comparable to the decoding noise, the coefficients
// are not all recovered, and clean decoded JPEGs have many near and far
// MCUs. What no decoding error produces in colour is a pixel whose G
// alone is off by 1 while R and B match (compare explains why), and ±1
// embedding produces one for about every third sample it changes.
//
// JPEG-like: at least jpegCompatLattice luma frequencies show the
// lattice. Modified: a JPEG-like image with at least
// jpegCompatModifiedMin incompatible MCUs — for colour, MCUs with a
// lone-G pixel; for gray, MCUs whose only mismatch is one pixel off by
// 1, and then also at least jpegGrayThreshold of the MCUs.
//
// Cost, bounded whatever the image size: at most jpegCompatMaxMCUs MCUs
// (evenly spread) are tested, and at most jpegCompatEstMCUs of them
// estimate the tables; memory is their coefficients (≤ 6·64·1024
// float32, 1.5 MB), a sorted copy of one frequency's (≤ 32 KB) and
// MCU-sized buffers: 2.2 MB allocated in all for a 1920×1280 JPEG, in
// 0.11 s of one core (BenchmarkJPEGCompat), and no more for larger
// images.

const (
	// jpegCompatMaxMCUs bounds the MCUs tested: 4096 MCUs are 1 Mpixel
	// at 4:2:0, enough to see a handful of changed samples.
	jpegCompatMaxMCUs = 4096
	// jpegCompatEstMCUs bounds the MCUs the quantisation tables are
	// estimated from.
	jpegCompatEstMCUs = 1024
	// jpegCompatQuickMCUs is the sample each colour subsampling is tried
	// on; when it shows no lattice at any frequency under any of them,
	// the test ends there. (Gray has no trials, and a quick sample of
	// gray q95 JPEGs missed the lattice in 2 of 20 photos.)
	jpegCompatQuickMCUs = 128
	// jpegCompatMinMCUs: with fewer testable MCUs the test does not run.
	jpegCompatMinMCUs = 16
	// jpegCompatTol is the distance from the lattice, in DCT units, that
	// still counts as on it when estimating steps (and at most q/4): the
	// decoder's rounding to integer pixels gives each coefficient an
	// error of std ≈ 0.3, but up to about 2 in smooth blocks, where the
	// rounding errors of neighbouring pixels are alike.
	jpegCompatTol = 2.0
	// jpegCompatTolDC is the same for the DC coefficient: in a flat
	// block every pixel rounds the same way, so the DC (8 × the mean)
	// errs by up to 4.
	jpegCompatTolDC = 4.5
	// jpegCompatNonZero: coefficients at least this large count as
	// clearly non-zero when estimating steps.
	jpegCompatNonZero = 3.0
	// jpegCompatMinNonZero: a frequency whose step was fitted on fewer
	// coefficients does not count as lattice evidence (its step is still
	// used for decoding).
	jpegCompatMinNonZero = 20
	// jpegCompatRefine: how many of the most ambiguous coefficients of an
	// MCU are tried at their other neighbour when the first candidate
	// does not reproduce it.
	jpegCompatRefine = 8
	// jpegCompatModifiedMin: a JPEG-like image is called modified when
	// at least this many MCUs are incompatible (colour: hold a lone-G
	// pixel; gray: their only mismatch is one pixel off by 1).
	jpegCompatModifiedMin = 3
	// For gray images (which have no lone-G test) it must also be at
	// least jpegGrayThreshold(quality) of the MCUs: clean decoded gray
	// JPEGs have a few lone-pixel MCUs where the coefficients of a fine
	// quantiser are not recovered (docs/stealth.md, "JPEG covers").
	// Colour needs no fraction: no clean decoded JPEG had a single
	// lone-G pixel.
)

// JPEGCompatReport is the JPEG-compatibility test: was the image decoded
// from a JPEG, and was it changed afterwards?
type JPEGCompatReport struct {
	// JPEGLike: the pixels carry a JPEG quantisation lattice on the 8×8
	// grid aligned at (0,0), i.e. the image was decoded from a JPEG
	// (and not rescaled or cropped off the grid since).
	JPEGLike bool `json:"jpeg_like"`
	// Modified: JPEG-like, and samples were changed one by one after
	// decoding (Incompatible) — the trace of ±1 embedding, or of any
	// small edit. Detectable at almost any payload.
	Modified bool `json:"modified"`
	// Subsampling of the decoded JPEG that fits best: "4:4:4", "4:2:0",
	// "4:2:2", "4:4:0", or "gray". Empty when not JPEG-like.
	Subsampling string `json:"subsampling,omitempty"`
	// Quality is the IJG quality (1–100) whose standard luminance table
	// is closest to the estimated one; 0 when not JPEG-like. Cameras use
	// their own tables, so read it as an approximation.
	Quality int `json:"quality"`
	// LumaTable is the estimated luminance quantisation table in
	// row-major order (not zig-zag); omitted when not JPEG-like. Steps
	// of high frequencies that were zero in every sampled block are
	// reported as 0 (unknown).
	LumaTable []int `json:"luma_table,omitempty"`
	// LatticeFrequencies counts the luma frequencies (of 64) whose
	// coefficients sit on a lattice of step 3 or more — the JPEG
	// evidence that needs no decoding model.
	LatticeFrequencies int `json:"lattice_frequencies"`
	// MCUs tested (an MCU is 8×8 pixels for gray and 4:4:4, 16×16 for
	// 4:2:0), and how they split: Compatible reproduced exactly by some
	// JPEG decoding, Near off by exactly ±1 in some samples, Far off by
	// more (not explained by JPEG decoding at all).
	MCUs       int `json:"mcus"`
	Compatible int `json:"compatible"`
	Near       int `json:"near"`
	Far        int `json:"far"`
	// Clipped MCUs, with a sample at 0 or 255, are left out of the test
	// (and of MCUs): the decoder's clamping hides their coefficients.
	Clipped int `json:"clipped"`
	// Incompatible counts the MCUs that carry the trace of single
	// samples changed after decoding, the MCUs with a lone change
	// (Lone). Modified is set when
	// Incompatible reaches MinIncompatible and IncompatibleFraction
	// (Incompatible/MCUs) reaches Threshold (0 for colour; for gray it
	// depends on the estimated quality, see jpegGrayThreshold).
	Incompatible         int     `json:"incompatible"`
	IncompatibleFraction float64 `json:"incompatible_fraction"`
	MinIncompatible      int     `json:"min_incompatible"`
	Threshold            float64 `json:"threshold"`
	// ChangedSamples counts the samples of the Near MCUs that differ
	// from their best JPEG decoding. When nearly all clean MCUs decode
	// exactly (quality up to about 85) it estimates the samples changed
	// in the tested part of the image; at higher quality it also counts
	// decoding misses and means little.
	ChangedSamples int `json:"changed_samples"`
	// Lone counts the MCUs with a lone change and LoneSamples those
	// changes. Colour: a pixel whose G alone is off by 1 from the best
	// JPEG decoding while R and B match, which no decoding error
	// produces (see compare). Gray: an MCU whose only mismatch is one
	// pixel off by 1 — a decoding miss moves a whole basis pattern, so
	// it rarely touches a single pixel, but at quality 90 and above it
	// sometimes does (docs/stealth.md).
	Lone        int `json:"lone"`
	LoneSamples int `json:"lone_samples"`
	// Note says what limits this result, if anything.
	Note string `json:"note,omitempty"`
}

// LooksDecompressedJPEG reports whether img's pixels are a decoded JPEG
// (a PNG or BMP that was a JPEG before, whatever its file says), and the
// approximate IJG quality of that JPEG. 16-bit and very small images
// are never reported as JPEG. It costs what the analysis's JPEG test
// costs: bounded CPU (a few ms per Mpixel, at most ~4 Mpixel examined)
// and under 1 MB of memory.
func LooksDecompressedJPEG(img *Image) (quality int, ok bool) {
	if img == nil || img.r == nil {
		return 0, false
	}
	rep := jpegCompat(img.r)
	if rep == nil || !rep.JPEGLike {
		return 0, false
	}
	return rep.Quality, true
}

// FromJPEG reports whether the image was decoded from a JPEG file. An
// image embedded into then carries JPEG-compatibility traces that
// Analyze (JPEGCompatReport) exposes at almost any payload; see
// LooksDecompressedJPEG for images whose file says otherwise.
func (m *Image) FromJPEG() bool { return m != nil && m.SourceFormat == "jpeg" }

// jpegSub is a chroma subsampling: the chroma cell is h×v pixels.
type jpegSub struct {
	h, v int
	name string
}

// jpegSubs in order of preference: the most common first.
var jpegSubs = []jpegSub{{2, 2, "4:2:0"}, {1, 1, "4:4:4"}, {2, 1, "4:2:2"}, {1, 2, "4:4:0"}}

// jpegDCTCos[u][x] = C(u)/2·cos((2x+1)uπ/16), the orthonormal 8-point
// DCT-II basis JPEG uses (C(0) = 1/√2, else 1).
var jpegDCTCos = func() (c [8][8]float64) {
	for u := 0; u < 8; u++ {
		cu := 1.0
		if u == 0 {
			cu = 1 / math.Sqrt2
		}
		for x := 0; x < 8; x++ {
			c[u][x] = cu / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
		}
	}
	return c
}()

// jpegFDCT is the 2-D DCT of a level-shifted 8×8 block (row-major).
func jpegFDCT(in *[64]float64, out *[64]float64) {
	var tmp [64]float64
	for y := 0; y < 8; y++ {
		for u := 0; u < 8; u++ {
			s := 0.0
			for x := 0; x < 8; x++ {
				s += jpegDCTCos[u][x] * in[y*8+x]
			}
			tmp[y*8+u] = s
		}
	}
	for v := 0; v < 8; v++ {
		for u := 0; u < 8; u++ {
			s := 0.0
			for y := 0; y < 8; y++ {
				s += jpegDCTCos[v][y] * tmp[y*8+u]
			}
			out[v*8+u] = s
		}
	}
}

// jpegIDCTRound decodes dequantised coefficients exactly as image/jpeg
// does: its integer IDCT (jpeg_idct.go), level shift, clamp to 0–255.
func jpegIDCTRound(in *[64]float64, out *[64]uint8) {
	var b jpegBlock
	for i, v := range in {
		b[i] = int32(max(-32768, min(32767, v)))
	}
	jpegIDCT(&b)
	for i, c := range b {
		switch {
		case c < -128:
			out[i] = 0
		case c > 127:
			out[i] = 255
		default:
			out[i] = uint8(c + 128)
		}
	}
}

// jpegMCU holds one MCU's working data: the float component planes
// (Y: 8h×8v, chroma 8×8 each), their DCT blocks, and the decoded
// candidate.
type jpegMCU struct {
	sub  jpegSub
	gray bool
	// clipped: some sample is 0 or 255, where the decoder's clamping
	// breaks the linear relation between pixels and coefficients.
	clipped bool
	nblk    int // blocks: h·v luma (+2 chroma)
	coef    [6][64]float64
	k       [6][64]float64 // chosen lattice index per coefficient
	dec     [6][64]uint8
	comp    [6]int // table index of each block: 0 luma, 1 Cb, 2 Cr
	plane   [6][64]float64
	amb     [6 * 64]jpegAmb // test's scratch: ambiguous coefficients
}

// jpegAmb is a coefficient of block b at frequency i whose value lies a
// (0–0.5) steps from the nearest lattice point.
type jpegAmb struct {
	b, i int
	a    float64
}

// jpegCompatState is the test's configuration for one image.
type jpegCompatState struct {
	r    *raster
	sub  jpegSub
	gray bool
	mw   int // MCU side in pixels, horizontally and vertically
	mh   int
	q    [3][64]float64 // estimated steps per component
}

func (s *jpegCompatState) mcuCount() (mx, my int) { return s.r.width / s.mw, s.r.height / s.mh }

// load fills m's planes and DCT blocks from the MCU at (mx, my).
func (s *jpegCompatState) load(m *jpegMCU, mx, my int) {
	r := s.r
	spp := r.samplesPerPixel()
	stride := r.rowStride()
	x0, y0 := mx*s.mw, my*s.mh
	m.sub, m.gray, m.clipped = s.sub, s.gray, false
	for y := 0; y < s.mh && !m.clipped; y++ {
		row := r.pix[(y0+y)*stride+x0*spp:]
		for x := 0; x < s.mw*spp; x++ {
			if v := row[x]; (v == 0 || v == 255) && (!r.alpha || x%spp != r.channels) {
				m.clipped = true
				break
			}
		}
	}
	if s.gray {
		m.nblk = 1
		m.comp[0] = 0
		for y := 0; y < 8; y++ {
			row := r.pix[(y0+y)*stride+x0*spp:]
			for x := 0; x < 8; x++ {
				m.plane[0][y*8+x] = float64(row[x*spp]) - 128
			}
		}
		jpegFDCT(&m.plane[0], &m.coef[0])
		return
	}
	h, v := s.sub.h, s.sub.v
	nl := h * v
	m.nblk = nl + 2
	for b := 0; b < nl; b++ {
		m.comp[b] = 0
	}
	m.comp[nl], m.comp[nl+1] = 1, 2
	cb, cr := &m.plane[nl], &m.plane[nl+1]
	*cb, *cr = [64]float64{}, [64]float64{}
	inv := 1 / float64(h*v)
	for y := 0; y < s.mh; y++ {
		row := r.pix[(y0+y)*stride+x0*spp:]
		for x := 0; x < s.mw; x++ {
			Y, Cb, Cr := jpegInvertRGB(row[x*spp], row[x*spp+1], row[x*spp+2])
			b := (y/8)*h + x/8
			m.plane[b][(y%8)*8+x%8] = Y - 128
			ci := (y/v)*8 + x/h
			cb[ci] += (Cb - 128) * inv
			cr[ci] += (Cr - 128) * inv
		}
	}
	for b := 0; b < m.nblk; b++ {
		jpegFDCT(&m.plane[b], &m.coef[b])
	}
}

// jpegInvertRGB returns the Y, Cb, Cr that color.YCbCrToRGB turns into
// R, G, B. It tries the integer luma values next to the floating-point
// inverse and, for each, the only Cr that gives R and the only Cb that
// gives B (the Cr and Cb steps, 1.402 and 1.772, exceed 1), keeping
// the first that also gives G, nearest luma first (a second solution is
// rare and off by one luma step at most). When there is
// none (a clamped or changed sample), it returns the floating-point
// inverse: R = ⌊1.00392·Y + 1.40198·Cr'⌋, G = ⌊1.00392·Y − 0.34414·Cb' −
// 0.71414·Cr'⌋, B = ⌊1.00392·Y + 1.77197·Cb'⌋ with Cb' = Cb−128; the
// luma weights cancel the chroma terms and +0.5 undoes the floor on
// average. Exact values matter: the float inverse errs by the same
// amount on every pixel of a flat block, which moves the DC
// coefficient by 8 times as much.
func jpegInvertRGB(r8, g8, b8 uint8) (y, cb, cr float64) {
	R, G, B := float64(r8), float64(g8), float64(b8)
	fy := (0.299*R + 0.587*G + 0.114*B + 0.5) / (65793.0 / 65536)
	fyy := fy * 65793.0 / 65536
	fcb := (B+0.5-fyy)/(116130.0/65536) + 128
	fcr := (R+0.5-fyy)/(91881.0/65536) + 128
	ri, gi, bi := int32(r8), int32(g8), int32(b8)
	if ri == 0 || ri == 255 || gi == 0 || gi == 255 || bi == 0 || bi == 255 {
		return fy, fcb, fcr
	}
	y0 := int32(math.Round(fy))
	for _, yi := range [3]int32{y0, y0 - 1, y0 + 1} {
		if yi < 0 || yi > 255 {
			continue
		}
		yy1 := yi * 0x10101
		cr1 := jpegCeilDiv(ri<<16-yy1, 91881)
		if cr1 < -128 || cr1 > 127 || yy1+91881*cr1 >= (ri+1)<<16 {
			continue
		}
		cb1 := jpegCeilDiv(bi<<16-yy1, 116130)
		if cb1 < -128 || cb1 > 127 || yy1+116130*cb1 >= (bi+1)<<16 {
			continue
		}
		if g := yy1 - 22554*cb1 - 46802*cr1; g < 0 || g>>16 != gi {
			continue
		}
		return float64(yi), float64(cb1 + 128), float64(cr1 + 128)
	}
	return fy, fcb, fcr
}

// jpegCeilDiv is ⌈a/b⌉ for b > 0.
func jpegCeilDiv(a, b int32) int32 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// decodeBlock decodes block b of m from its lattice indices.
func (s *jpegCompatState) decodeBlock(m *jpegMCU, b int) {
	var d [64]float64
	q := &s.q[m.comp[b]]
	for i := range d {
		d[i] = m.k[b][i] * q[i]
	}
	jpegIDCTRound(&d, &m.dec[b])
}

// compare counts the samples of the decoded MCU that differ from the
// image, the largest difference, and the lone-G pixels: those whose G
// differs by exactly 1 while R and B match. A decoding error cannot
// make those: one step of Y moves R, G and B together, one of Cb moves
// B by 1–2 and one of Cr moves R by 1–2, so G alone moves by 1 only
// when a sample was changed on its own — what ±1 embedding does to a
// third of the samples it changes.
func (s *jpegCompatState) compare(m *jpegMCU, mx, my int) (n, maxd, loneG int) {
	r := s.r
	spp := r.samplesPerPixel()
	stride := r.rowStride()
	x0, y0 := mx*s.mw, my*s.mh
	if s.gray {
		for y := 0; y < 8; y++ {
			row := r.pix[(y0+y)*stride+x0*spp:]
			for x := 0; x < 8; x++ {
				d := jpegAbs(int(row[x*spp]) - int(m.dec[0][y*8+x]))
				if d != 0 {
					n++
					maxd = max(maxd, d)
				}
			}
		}
		return n, maxd, 0
	}
	h, v := s.sub.h, s.sub.v
	nl := h * v
	for y := 0; y < s.mh; y++ {
		row := r.pix[(y0+y)*stride+x0*spp:]
		for x := 0; x < s.mw; x++ {
			Y := m.dec[(y/8)*h+x/8][(y%8)*8+x%8]
			ci := (y/v)*8 + x/h
			R, G, B := color.YCbCrToRGB(Y, m.dec[nl][ci], m.dec[nl+1][ci])
			var ds [3]int
			for c, want := range [3]uint8{R, G, B} {
				d := jpegAbs(int(row[x*spp+c]) - int(want))
				ds[c] = d
				if d != 0 {
					n++
					maxd = max(maxd, d)
				}
			}
			if ds[0] == 0 && ds[1] == 1 && ds[2] == 0 {
				loneG++
			}
		}
	}
	return n, maxd, loneG
}

func jpegAbs(d int) int {
	if d < 0 {
		return -d
	}
	return d
}

// mcuClass is how an MCU compares with its best JPEG decoding.
type mcuClass int

const (
	mcuCompatible mcuClass = iota
	mcuNear
	mcuFar
	mcuClipped // not tested
)

// test decides one MCU: the first candidate from rounding, then the
// most ambiguous coefficients flipped one at a time, keeping a flip that
// reduces the mismatched samples.
func (s *jpegCompatState) test(m *jpegMCU, mx, my int) (class mcuClass, n, loneG int) {
	s.load(m, mx, my)
	if m.clipped {
		return mcuClipped, 0, 0
	}
	ambs := &m.amb
	na := 0
	for b := 0; b < m.nblk; b++ {
		q := &s.q[m.comp[b]]
		for i := 0; i < 64; i++ {
			t := m.coef[b][i] / q[i]
			k := math.Round(t)
			m.k[b][i] = k
			if a := math.Abs(t - k); a > 0.2 {
				ambs[na] = jpegAmb{b, i, a}
				na++
			}
		}
		s.decodeBlock(m, b)
	}
	n, maxd, loneG := s.compare(m, mx, my)
	if n > 0 && na > 0 {
		list := ambs[:na]
		slices.SortFunc(list, func(x, y jpegAmb) int { return cmp.Compare(y.a, x.a) })
		for _, c := range list[:min(na, jpegCompatRefine)] {
			t := m.coef[c.b][c.i] / s.q[m.comp[c.b]][c.i]
			old := m.k[c.b][c.i]
			if t > old {
				m.k[c.b][c.i] = old + 1
			} else {
				m.k[c.b][c.i] = old - 1
			}
			s.decodeBlock(m, c.b)
			n2, maxd2, lone2 := s.compare(m, mx, my)
			if n2 < n {
				n, maxd, loneG = n2, maxd2, lone2
				if n == 0 {
					break
				}
				continue
			}
			m.k[c.b][c.i] = old
			s.decodeBlock(m, c.b)
		}
	}
	switch {
	case n == 0:
		return mcuCompatible, 0, 0
	case maxd == 1:
		return mcuNear, n, loneG
	}
	return mcuFar, n, loneG
}

// mcuList returns the MCU indices tested: all, or at most limit evenly
// spread ones.
func jpegMCUList(total, limit int) []int {
	n := min(total, limit)
	out := make([]int, n)
	for i := range out {
		out[i] = int(int64(i) * int64(total) / int64(n))
	}
	return out
}

// estimate sets s.q from the MCUs in list, and returns the luma lattice
// evidence: the number of luma frequencies with enough non-zero
// coefficients whose estimated step is at least 3 — or 0 when every such
// frequency is even in both directions. That pattern was measured on a
// camera JPEG box-halved (its 8×8 grid became a 4×4 one), which is not a
// JPEG at this grid: its pixels were never an exact decoding, yet ±1
// noise on it once lifted the lattice to four even frequencies and the
// stego image was called modified. Every JPEG measured at this grid shows
// its lattice at odd frequencies too ((0,1) and (1,0) carry the most
// non-zero coefficients of any AC frequency).
func (s *jpegCompatState) estimate(list []int) (evidence int) {
	mx, _ := s.mcuCount()
	var m jpegMCU
	ncomp := 3
	if s.gray {
		ncomp = 1
	}
	// vals[c][i] holds the coefficients of component c at frequency i;
	// one backing array for all, sized for the MCUs given.
	var vals [3][64][]float32
	perBlock := [3]int{s.sub.h * s.sub.v, 1, 1}
	if s.gray {
		perBlock = [3]int{1, 0, 0}
	}
	back := make([]float32, 0, 64*len(list)*(perBlock[0]+perBlock[1]+perBlock[2]))
	for c := range vals {
		for i := range vals[c] {
			n := len(list) * perBlock[c]
			vals[c][i], back = back[:0:n], back[n:n]
		}
	}
	scratch := make([]float64, 0, len(list)*perBlock[0])
	for _, idx := range list {
		s.load(&m, idx%mx, idx/mx)
		if m.clipped {
			continue
		}
		for b := 0; b < m.nblk; b++ {
			c := m.comp[b]
			for i := 0; i < 64; i++ {
				vals[c][i] = append(vals[c][i], float32(m.coef[b][i]))
			}
		}
	}
	odd := 0 // lattice frequencies odd in a direction
	for c := 0; c < ncomp; c++ {
		for i := 0; i < 64; i++ {
			q, nz := jpegEstimateStep(vals[c][i], i == 0, scratch)
			s.q[c][i] = float64(q)
			if c == 0 && nz >= jpegCompatMinNonZero && q >= 3 {
				evidence++
				if (i/8)%2 == 1 || (i%8)%2 == 1 {
					odd++
				}
			}
		}
	}
	if odd == 0 {
		return 0
	}
	return evidence
}

// jpegEstimateStep returns the step q (1–255) of one frequency's
// coefficients: the largest q for which at least 3 coefficients (1% of
// them for q < 8) would round to a non-zero multiple of q (|v| ≥ q/2)
// and at least 90% of those lie within q/4 (at most jpegCompatTol, or
// jpegCompatTolDC for the DC) of such a multiple. Counting only the
// values that q would not round to zero keeps the many zeros from
// fitting every q, and the values between q/2 and q−tol, off the
// lattice, from letting a spurious small q fit noise. Among q and its
// neighbours fitting as well, the one with the smaller squared residual
// wins. When no q ≥ 2 fits: 255 (round everything to zero) if at most
// 1% of the values are clearly non-zero (jpegCompatNonZero), else 1.
// support is the number of values the chosen q was fitted on (0 when
// none fits). scratch is reused for the values' magnitudes.
func jpegEstimateStep(vals []float32, dc bool, scratch []float64) (q, support int) {
	// Only values of at least 1 can matter (q ≥ 2 counts |v| ≥ q/2),
	// and most high-frequency coefficients are near 0.
	abs := scratch[:0]
	nz := 0
	for _, v := range vals {
		a := math.Abs(float64(v))
		if a >= 1 {
			abs = append(abs, a)
		}
		if a >= jpegCompatNonZero {
			nz++
		}
	}
	// Descending, so that the values q would not round to zero are a
	// prefix and the scan over q costs Σ 2|v| rather than 255·n.
	slices.Sort(abs)
	slices.Reverse(abs)
	maxAbs := 0.0
	if len(abs) > 0 {
		maxAbs = abs[0]
	}
	fit := func(q int) (ok bool, sq float64, n int) {
		fq := float64(q)
		tol := min(fq/4, jpegCompatTol)
		if dc {
			tol = min(fq/4, jpegCompatTolDC)
		}
		good := 0
		for _, a := range abs {
			if a < fq/2 {
				break
			}
			n++
			d := a - math.Round(a/fq)*fq
			if math.Abs(d) <= tol {
				good++
			}
			sq += d * d
		}
		need := 3
		if q < 8 {
			need = max(need, len(vals)/100)
		}
		return n >= need && float64(good) >= 0.9*float64(n), sq, n
	}
	best := 0
	for q := min(255, int(2*maxAbs)); q >= 2; q-- {
		if ok, _, _ := fit(q); ok {
			best = q
			break
		}
	}
	if best == 0 {
		if float64(nz) <= 0.01*float64(len(vals)) {
			return 255, 0
		}
		return 1, 0
	}
	_, sq, support := fit(best)
	for _, c := range []int{best - 1, best + 1} {
		if c < 2 || c > 255 {
			continue
		}
		if ok, sq2, n2 := fit(c); ok && sq2 < sq {
			best, sq, support = c, sq2, n2
		}
	}
	return best, support
}

// jpegStdLuma is the IJG (Annex K) luminance table, row-major.
var jpegStdLuma = [64]int{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

// jpegQuality is the IJG quality whose scaled luminance table is closest
// (mean absolute log ratio) to q over the frequencies in known.
func jpegQuality(q *[64]float64, known *[64]bool) int {
	best, bestErr := 0, math.Inf(1)
	for quality := 1; quality <= 100; quality++ {
		scale := 5000 / quality
		if quality >= 50 {
			scale = 200 - 2*quality
		}
		e, n := 0.0, 0
		for i := 0; i < 64; i++ {
			if !known[i] {
				continue
			}
			t := min(max((jpegStdLuma[i]*scale+50)/100, 1), 255)
			e += math.Abs(math.Log(q[i] / float64(t)))
			n++
		}
		if n > 0 && e/float64(n) < bestErr {
			best, bestErr = quality, e/float64(n)
		}
	}
	return best
}

// jpegCompat runs the test on an 8-bit raster; nil when it does not
// apply (16-bit, too small).
func jpegCompat(r *raster) *JPEGCompatReport {
	if r == nil || r.depth16 || (r.channels != 1 && r.channels != 3) {
		return nil
	}
	base := jpegCompatState{r: r, gray: r.channels == 1}
	if base.gray {
		base.mw, base.mh = 8, 8
		if (r.width/8)*(r.height/8) < jpegCompatMinMCUs {
			return nil
		}
		return base.run(jpegSub{1, 1, "gray"})
	}
	// Colour: try each subsampling on a small sample and keep the one
	// under which most MCUs decode exactly (ties: the first, 4:4:4).
	// Tables first: when not one frequency shows a lattice under any
	// subsampling there is no JPEG, and neither the trial decodings nor
	// the full test are run (they were most of the cost for photos that
	// never were JPEGs).
	type trial struct {
		s    jpegCompatState
		list []int
		ev   int
	}
	var trials []trial
	bestEvidence := 0
	for _, sub := range jpegSubs {
		s := base
		s.sub, s.mw, s.mh = sub, 8*sub.h, 8*sub.v
		mx, my := s.mcuCount()
		if mx*my < jpegCompatMinMCUs {
			continue
		}
		list := jpegMCUList(mx*my, jpegCompatQuickMCUs)
		ev := s.estimate(list)
		if len(trials) == 0 && ev == 0 && sub == jpegSubs[0] {
			// 4:2:0's MCUs hold four luma blocks each, the most of any
			// subsampling, and luma is inverted exactly whatever the
			// subsampling: no lattice there, none in the others' smaller
			// samples either.
			return &JPEGCompatReport{MinIncompatible: jpegCompatModifiedMin}
		}
		trials = append(trials, trial{s, list, ev})
		bestEvidence = max(bestEvidence, ev)
	}
	if len(trials) == 0 {
		return nil
	}
	if bestEvidence == 0 {
		return &JPEGCompatReport{MinIncompatible: jpegCompatModifiedMin}
	}
	var best *jpegSub
	bestScore := -1.0
	for _, t := range trials {
		mx, _ := t.s.mcuCount()
		var m jpegMCU
		ok, tested := 0, 0
		for _, idx := range t.list {
			c, _, _ := t.s.test(&m, idx%mx, idx/mx)
			if c != mcuClipped {
				tested++
			}
			if c == mcuCompatible {
				ok++
			}
		}
		score := float64(t.ev) / 640
		if tested > 0 {
			score += float64(ok) / float64(tested)
		}
		if score > bestScore+0.05 {
			bestScore, best = score, &t.s.sub
		}
	}
	return base.run(*best)
}

// run is the full test under one subsampling.
func (s jpegCompatState) run(sub jpegSub) *JPEGCompatReport {
	s.sub = sub
	if !s.gray {
		s.mw, s.mh = 8*sub.h, 8*sub.v
	}
	mx, my := s.mcuCount()
	list := jpegMCUList(mx*my, jpegCompatMaxMCUs)
	est := list
	if len(est) > jpegCompatEstMCUs {
		est = jpegMCUList(len(list), jpegCompatEstMCUs)
		for i, j := range est {
			est[i] = list[j]
		}
	}
	evidence := s.estimate(est)
	rep := &JPEGCompatReport{MCUs: len(list), MinIncompatible: jpegCompatModifiedMin, LatticeFrequencies: evidence}
	if evidence < jpegCompatLattice {
		// No lattice, no JPEG: testing every MCU could only confirm it,
		// and it was most of the cost for the photos that were never
		// JPEGs (three times what a decoded JPEG costs).
		rep.MCUs = 0
		return rep
	}
	var m jpegMCU
	for _, idx := range list {
		c, n, lone := s.test(&m, idx%mx, idx/mx)
		if s.gray && c == mcuNear && n == 1 {
			lone = 1
		}
		if lone > 0 {
			rep.Lone++
			rep.LoneSamples += lone
		}
		switch c {
		case mcuCompatible:
			rep.Compatible++
		case mcuNear:
			rep.Near++
			rep.ChangedSamples += n
		case mcuFar:
			rep.Far++
		default:
			rep.Clipped++
		}
	}
	rep.MCUs -= rep.Clipped
	if rep.MCUs < jpegCompatMinMCUs {
		rep.Note = "too few MCUs without clipped (0 or 255) samples to test"
		return rep
	}
	rep.Incompatible = rep.Lone
	rep.IncompatibleFraction = float64(rep.Incompatible) / float64(rep.MCUs)
	// JPEG-like: the luma lattice shows at several frequencies. (Not
	// "most MCUs decode exactly": flat blocks decode exactly under any
	// table, so a screenshot would pass; and at quality 95 and above few
	// MCUs decode exactly although the lattice is plain.)
	rep.JPEGLike = evidence >= jpegCompatLattice
	if !rep.JPEGLike {
		return rep
	}
	rep.Subsampling = sub.name
	var known [64]bool
	rep.LumaTable = make([]int, 64)
	for i := 0; i < 64; i++ {
		if s.q[0][i] < 255 {
			known[i] = true
			rep.LumaTable[i] = int(s.q[0][i])
		}
	}
	rep.Quality = jpegQuality(&s.q[0], &known)
	if s.gray {
		rep.Threshold = jpegGrayThreshold(rep.Quality)
	}
	rep.Modified = rep.Incompatible >= rep.MinIncompatible && rep.IncompatibleFraction >= rep.Threshold
	if rep.Far > rep.MCUs/2 {
		rep.Note = fmt.Sprintf("%d of %d MCUs match no JPEG decoding exactly: the quantiser is too fine (quality 95 or more) to recover its coefficients from pixels, or another decoder than Go's image/jpeg made the image; lone changes still count, but fewer of them are seen", rep.Far, rep.MCUs)
	}
	return rep
}

// jpegGrayThreshold is the fraction of lone-pixel MCUs from which a
// decoded gray JPEG of about this quality is called modified. Measured
// on 512×512 crops of the 20 test photographs re-encoded by image/jpeg
// (TestJPEGCompatRates), the clean maxima were 0.0002 at q50 and q75,
// 0.0095 at q90 and 0.037 at q95; 100 bytes embedded gave at least
// 0.0165 at q50 and q75.
func jpegGrayThreshold(quality int) float64 {
	switch {
	case quality >= 93:
		return 0.05
	case quality >= 85:
		return 0.02
	}
	return 0.005
}

// jpegCompatLattice: the number of luma frequencies with a clear lattice
// of step ≥ 3 (jpegCompatState.estimate) from which an image counts as
// JPEG-like.
const jpegCompatLattice = 4
