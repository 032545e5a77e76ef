package wire

import (
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of samples by the
// nearest-rank method: the smallest sample that at least p% of samples
// are less than or equal to. It returns 0 for no samples. samples is not
// modified.
//
// It lives here because every report of latency the project prints
// (stegoctl load and bench, the end-to-end tests) must round the same
// way to be compared.
func Percentile(samples []float64, p float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
