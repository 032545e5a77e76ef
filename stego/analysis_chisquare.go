package stego

import "math"

// chiSquareAnalyze runs the Westfeld–Pfitzmann attack on the whole sample
// stream and on each prefix from chiSquarePrefixes. vals holds pixels×ch
// samples in raster order, each ≤ maxv.
//
// Each colour channel keeps its own histogram (the channels of a photo
// have differently shaped histograms, and pooling their samples first
// would smear the 2k/2k+1 structure), and the pair categories of all
// channels are pooled into one statistic.
//
// Alongside the classic p-value it computes a control: the same statistic
// on the shifted pairs 2k−1/2k. See chiSquareControlMaxP for why the
// verdict needs both.
//
// The statistic is Westfeld's: Σ (n₂ₖ − e)²/e with e = (n₂ₖ+n₂ₖ₊₁)/2 over
// the pairs, with (categories − 1) degrees of freedom. It is half the
// textbook two-cell Pearson statistic, which is why a fully embedded
// stretch gives p ≈ 1 rather than a uniform p: that is the published
// attack and what its plots and thresholds refer to.
func chiSquareAnalyze[T anaSample](vals []T, pixels, ch, maxv int) ChiSquareReport {
	bins := maxv + 1
	hist := make([]int, ch*bins) // channel c's histogram is hist[c*bins:]
	fracs := chiSquarePrefixes()
	rep := ChiSquareReport{Prefixes: make([]ChiSquarePrefix, 0, len(fracs))}

	done := 0 // pixels already counted
	for _, f := range fracs {
		// Whole pixels, at least one, so that every prefix sees every
		// channel equally often.
		end := max(1, min(pixels, int(math.Round(f*float64(pixels)))))
		if end > done {
			countSamples(hist, vals[done*ch:end*ch], ch, bins)
			done = end
		}
		stat, cats := westfeldStatistic(hist, ch, bins, 0)
		cstat, ccats := westfeldStatistic(hist, ch, bins, 1)
		pr := ChiSquarePrefix{
			ControlPValue: chiSquareSurvival(cstat, ccats-1),
			Fraction:      f,
			Samples:       done * ch,
			Categories:    cats,
			Statistic:     stat,
			PValue:        chiSquareSurvival(stat, cats-1),
		}
		rep.Prefixes = append(rep.Prefixes, pr)
		if pr.Samples >= chiSquareMinSamples && pr.PValue >= chiSquareSuspectP && pr.ControlPValue <= chiSquareControlMaxP {
			rep.SuspectFraction = f
		}
	}
	rep.PValue = rep.Prefixes[len(rep.Prefixes)-1].PValue
	return rep
}

// countSamples adds interleaved samples to the per-channel histograms.
func countSamples[T anaSample](hist []int, vals []T, ch, bins int) {
	switch ch {
	case 1:
		for _, v := range vals {
			hist[v]++
		}
	case 3:
		h0, h1, h2 := hist[:bins], hist[bins:2*bins], hist[2*bins:3*bins]
		for i := 0; i+2 < len(vals); i += 3 {
			h0[vals[i]]++
			h1[vals[i+1]]++
			h2[vals[i+2]]++
		}
	default:
		for i, v := range vals {
			hist[(i%ch)*bins+int(v)]++
		}
	}
}

// westfeldStatistic computes the pooled statistic and the number of pair
// categories that had enough samples to count. shift 0 takes the pairs
// 2k/2k+1 of the attack; shift 1 the pairs 2k−1/2k, the control that LSB
// replacement does not equalise.
func westfeldStatistic(hist []int, ch, bins, shift int) (stat float64, cats int) {
	for c := 0; c < ch; c++ {
		h := hist[c*bins : (c+1)*bins]
		for k := shift; k+1 < len(h); k += 2 {
			sum := h[k] + h[k+1]
			if sum < chiSquareMinPairCount {
				continue
			}
			e := float64(sum) / 2
			d := float64(h[k]) - e
			stat += d * d / e
			cats++
		}
	}
	return stat, cats
}

// chiSquareSurvival is P(X ≥ x) for X chi-square distributed with df
// degrees of freedom. With no degrees of freedom there is no evidence
// either way; it returns 0 so that nothing is ever flagged on it.
func chiSquareSurvival(x float64, df int) float64 {
	if df <= 0 || math.IsNaN(x) {
		return 0
	}
	if x <= 0 {
		return 1
	}
	q := upperRegularizedGamma(float64(df)/2, x/2)
	return math.Max(0, math.Min(1, q))
}

// upperRegularizedGamma is Q(a, x) = Γ(a, x)/Γ(a) for a > 0, x > 0, by the
// series for P when x < a+1 and by Lentz's continued fraction otherwise
// (Numerical Recipes §6.2): each converges fast in its own region, in
// O(√a) terms even for the ~10⁵ degrees of freedom of a 16-bit image.
func upperRegularizedGamma(a, x float64) float64 {
	const (
		eps     = 1e-15
		tiny    = 1e-300
		maxIter = 1_000_000
	)
	lg, _ := math.Lgamma(a)
	front := math.Exp(-x + a*math.Log(x) - lg)
	if x < a+1 {
		ap, sum := a, 1/a
		del := sum
		for range maxIter {
			ap++
			del *= x / ap
			sum += del
			if math.Abs(del) < math.Abs(sum)*eps {
				break
			}
		}
		return 1 - sum*front
	}
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i <= maxIter; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return front * h
}
