package steganalysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// TrainConfig sets the ensemble's hyper-parameters (Kodovský, Fridrich &
// Holub 2012, "Ensemble classifiers for steganalysis of digital media").
type TrainConfig struct {
	L      int     // base learners (odd, so votes cannot tie); 51 if 0
	DSub   int     // features per random subspace; 0 searches DSubs on out-of-bag error
	DSubs  []int   // candidates for the search; {32, 64, 128, 256} if nil
	Lambda float64 // ridge added to the within-class scatter, relative to its mean diagonal; 1 if 0
	Seed   uint64
}

// learner is one Fisher linear discriminant on a feature subspace. Its
// weights already include the training set's standardisation, so it
// applies to raw features: it votes stego when Σ W[i]·x[Idx[i]] > B.
type learner struct {
	Idx []uint16
	W   []float32
	B   float32
}

// Ensemble is a trained classifier.
type Ensemble struct {
	Dim      int
	DSub     int
	Learners []learner
	OOBError float64 // out-of-bag estimate of the error at the 0.5 vote threshold
}

// Votes returns the fraction of learners that call x stego.
func (en *Ensemble) Votes(x []float32) (float64, error) {
	if len(x) != en.Dim {
		return 0, fmt.Errorf("%w: %d features, model wants %d", ErrDimension, len(x), en.Dim)
	}
	n := 0
	for _, l := range en.Learners {
		var s float32
		for j, i := range l.Idx {
			s += l.W[j] * x[i]
		}
		if s > l.B {
			n++
		}
	}
	return float64(n) / float64(len(en.Learners)), nil
}

// Train fits an ensemble to paired feature vectors: cover[i] and stego[i]
// come from the same image, and bootstrap samples draw pairs, as in the
// reference implementation, so that a learner never sees a stego image
// without its cover.
func Train(cover, stego [][]float32, cfg TrainConfig) (*Ensemble, error) {
	if len(cover) != len(stego) || len(cover) < 2 {
		return nil, fmt.Errorf("steganalysis: train needs ≥ 2 cover/stego pairs, got %d/%d", len(cover), len(stego))
	}
	dim := len(cover[0])
	for i := range cover {
		if len(cover[i]) != dim || len(stego[i]) != dim {
			return nil, fmt.Errorf("%w: ragged training features", ErrDimension)
		}
	}
	if cfg.L == 0 {
		cfg.L = 51
	}
	if cfg.Lambda == 0 {
		cfg.Lambda = 1
	}
	if cfg.DSub > 0 {
		return trainFixed(cover, stego, cfg)
	}
	cands := cfg.DSubs
	if cands == nil {
		cands = []int{32, 64, 128, 256}
	}
	var best *Ensemble
	for _, d := range cands {
		c := cfg
		c.DSub = d
		en, err := trainFixed(cover, stego, c)
		if err != nil {
			return nil, err
		}
		if best == nil || en.OOBError < best.OOBError {
			best = en
		}
	}
	return best, nil
}

func trainFixed(cover, stego [][]float32, cfg TrainConfig) (*Ensemble, error) {
	n, dim := len(cover), len(cover[0])
	dsub := min(cfg.DSub, dim)
	// standardise with statistics of all training vectors
	mean, sd := make([]float64, dim), make([]float64, dim)
	for _, set := range [2][][]float32{cover, stego} {
		for _, x := range set {
			for i, v := range x {
				mean[i] += float64(v)
			}
		}
	}
	for i := range mean {
		mean[i] /= float64(2 * n)
	}
	for _, set := range [2][][]float32{cover, stego} {
		for _, x := range set {
			for i, v := range x {
				d := float64(v) - mean[i]
				sd[i] += d * d
			}
		}
	}
	for i := range sd {
		sd[i] = math.Sqrt(sd[i] / float64(2*n))
		if sd[i] < 1e-12 {
			sd[i] = 1 // constant feature: weightless after centring
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(dsub)))
	en := &Ensemble{Dim: dim, DSub: dsub}
	// out-of-bag votes: [pair][class] → stego votes, total
	oobVotes := make([][2][2]int, n)
	perm := make([]int, dim)
	for i := range perm {
		perm[i] = i
	}
	for l := 0; l < cfg.L; l++ {
		rng.Shuffle(dim, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		idx := append([]int(nil), perm[:dsub]...)
		sort.Ints(idx)
		boot := make([]int, n)
		in := make([]bool, n)
		for i := range boot {
			boot[i] = rng.IntN(n)
			in[boot[i]] = true
		}
		get := func(x []float32) []float64 {
			z := make([]float64, dsub)
			for j, i := range idx {
				z[j] = (float64(x[i]) - mean[i]) / sd[i]
			}
			return z
		}
		zc, zs := make([][]float64, n), make([][]float64, n)
		for i := 0; i < n; i++ {
			zc[i], zs[i] = get(cover[i]), get(stego[i])
		}
		w, err := fisher(zc, zs, boot, dsub, cfg.Lambda)
		if err != nil {
			return nil, err
		}
		// threshold minimising the training error on the bootstrap sample
		var proj []scored
		for _, i := range boot {
			proj = append(proj, scored{dot(w, zc[i]), false}, scored{dot(w, zs[i]), true})
		}
		b := bestThreshold(proj)
		for i := 0; i < n; i++ {
			if in[i] {
				continue
			}
			for c, z := range [2][]float64{zc[i], zs[i]} {
				oobVotes[i][c][1]++
				if dot(w, z) > b {
					oobVotes[i][c][0]++
				}
			}
		}
		// fold standardisation into the weights
		lw := make([]float32, dsub)
		bb := b
		li := make([]uint16, dsub)
		for j, i := range idx {
			lw[j] = float32(w[j] / sd[i])
			bb += w[j] * mean[i] / sd[i]
			li[j] = uint16(i)
		}
		en.Learners = append(en.Learners, learner{Idx: li, W: lw, B: float32(bb)})
	}
	var errs, cnt float64
	for _, v := range oobVotes {
		for c := 0; c < 2; c++ {
			if v[c][1] == 0 {
				continue
			}
			cnt++
			saysStego := 2*v[c][0] > v[c][1]
			if saysStego != (c == 1) {
				errs++
			}
		}
	}
	en.OOBError = 0.5
	if cnt > 0 {
		en.OOBError = errs / cnt
	}
	return en, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// fisher returns Sw⁻¹(μs − μc) for the bootstrap sample, with Sw the sum
// of the two classes' scatter matrices plus a ridge of lambda times its
// mean diagonal: with fewer images than features Sw is singular, and
// the ridge is what makes the discriminant exist at all.
func fisher(zc, zs [][]float64, boot []int, d int, lambda float64) ([]float64, error) {
	mc, ms := make([]float64, d), make([]float64, d)
	for _, i := range boot {
		for j := 0; j < d; j++ {
			mc[j] += zc[i][j]
			ms[j] += zs[i][j]
		}
	}
	nb := float64(len(boot))
	for j := range mc {
		mc[j] /= nb
		ms[j] /= nb
	}
	sw := make([]float64, d*d)
	u := make([]float64, d)
	for _, set := range [2]struct {
		z [][]float64
		m []float64
	}{{zc, mc}, {zs, ms}} {
		for _, i := range boot {
			for j := 0; j < d; j++ {
				u[j] = set.z[i][j] - set.m[j]
			}
			for a := 0; a < d; a++ {
				ua := u[a]
				if ua == 0 {
					continue
				}
				row := sw[a*d : a*d+a+1]
				for b := range row {
					row[b] += ua * u[b]
				}
			}
		}
	}
	var tr float64
	for a := 0; a < d; a++ {
		tr += sw[a*d+a]
	}
	ridge := lambda * tr / float64(d)
	if ridge <= 0 {
		ridge = lambda
	}
	for a := 0; a < d; a++ {
		sw[a*d+a] += ridge
	}
	diff := make([]float64, d)
	for j := range diff {
		diff[j] = ms[j] - mc[j]
	}
	return cholSolve(sw, diff, d)
}

// cholSolve solves A x = b for symmetric positive definite A, of which
// only the lower triangle (row-major) is read.
func cholSolve(a, b []float64, d int) ([]float64, error) {
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for k := 0; k < j; k++ {
			s -= a[j*d+k] * a[j*d+k]
		}
		if s <= 0 {
			return nil, fmt.Errorf("steganalysis: scatter matrix not positive definite (raise Lambda)")
		}
		s = math.Sqrt(s)
		a[j*d+j] = s
		for i := j + 1; i < d; i++ {
			t := a[i*d+j]
			ri, rj := a[i*d:i*d+j], a[j*d:j*d+j]
			for k := range rj {
				t -= ri[k] * rj[k]
			}
			a[i*d+j] = t / s
		}
	}
	x := append([]float64(nil), b...)
	for i := 0; i < d; i++ {
		for k := 0; k < i; k++ {
			x[i] -= a[i*d+k] * x[k]
		}
		x[i] /= a[i*d+i]
	}
	for i := d - 1; i >= 0; i-- {
		for k := i + 1; k < d; k++ {
			x[i] -= a[k*d+i] * x[k]
		}
		x[i] /= a[i*d+i]
	}
	return x, nil
}

type scored struct {
	v     float64
	stego bool
}

// bestThreshold returns the threshold t minimising P_FA + P_MD for the
// rule "stego when v > t".
func bestThreshold(s []scored) float64 {
	t, _ := minPE(s)
	return t
}

// minPE returns the threshold and the P_E = min over thresholds of
// (P_FA + P_MD)/2 for the rule "stego when score > threshold".
func minPE(s []scored) (float64, float64) {
	sort.Slice(s, func(i, j int) bool { return s[i].v < s[j].v })
	var nc, ns float64
	for _, x := range s {
		if x.stego {
			ns++
		} else {
			nc++
		}
	}
	if nc == 0 || ns == 0 {
		return 0, 0
	}
	// threshold below everything: all called stego → P_FA = 1, P_MD = 0
	fa, md := nc, 0.0
	bestPE := 0.5 * (fa/nc + md/ns)
	bestT := s[0].v - 1
	for i := 0; i < len(s); i++ {
		if s[i].stego {
			md++
		} else {
			fa--
		}
		if i+1 < len(s) && s[i+1].v == s[i].v {
			continue
		}
		pe := 0.5 * (fa/nc + md/ns)
		if pe < bestPE {
			bestPE = pe
			if i+1 < len(s) {
				bestT = (s[i].v + s[i+1].v) / 2
			} else {
				bestT = s[i].v
			}
		}
	}
	return bestT, bestPE
}

// PE is MinPE for separate cover and stego scores (higher = more stego).
func PE(coverScores, stegoScores []float64) float64 {
	s := make([]scored, 0, len(coverScores)+len(stegoScores))
	for _, v := range coverScores {
		s = append(s, scored{v, false})
	}
	for _, v := range stegoScores {
		s = append(s, scored{v, true})
	}
	_, pe := minPE(s)
	return pe
}
