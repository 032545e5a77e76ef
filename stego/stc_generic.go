//go:build !amd64 || purego

package stego

// stcColumns128 is stcColumnsSmall for h = 7; only amd64 has a vector
// version.
func stcColumns128(cols []uint32, x []byte, rho []float32, path []uint64, a, b *[128]float32) {
	stcColumnsSmall(cols, x, rho, path, 2, a, b, 128)
}
