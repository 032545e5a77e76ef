//go:build !purego

package stego

import "golang.org/x/sys/cpu"

// stcColumns128 is stcColumnsSmall for h = 7 (128 states, two path words
// per element). With AVX2 it runs stcColumnsAVX2: eight states per
// instruction instead of one, the same additions and comparisons in the
// same order, so the same weights and path bits (TestSTCColumns128).
func stcColumns128(cols []uint32, x []byte, rho []float32, path []uint64, a, b *[128]float32) {
	if len(cols) == 0 {
		return
	}
	if !cpu.X86.HasAVX2 {
		stcColumnsSmall(cols, x, rho, path, 2, a, b, 128)
		return
	}
	// The assembly reads len(cols) entries of x and rho and writes
	// 2·len(cols) path words: make a short slice panic here, not there.
	_, _, _ = x[len(cols)-1:], rho[len(cols)-1:], path[2*len(cols)-1:]
	stcColumnsAVX2(cols, x, rho, path, a, b)
}

//go:noescape
func stcColumnsAVX2(cols []uint32, x []byte, rho []float32, path []uint64, a, b *[128]float32)
