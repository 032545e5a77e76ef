package testenv

import "math/rand/v2"

// RandomBytes is n bytes of deterministic, incompressible data: the
// same seed gives the same bytes on every run.
func RandomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// Shape is one of the sample layouts a lossless cover can have.
type Shape struct {
	Name     string
	Channels int  // colour channels: 1 (gray) or 3 (RGB)
	Alpha    bool // an alpha sample follows the colour samples
	Depth16  bool // 16-bit samples
}

// Shapes are every layout the codec must handle: gray and RGB, with and
// without alpha, at 8 and 16 bits.
var Shapes = []Shape{
	{"gray8", 1, false, false},
	{"grayalpha8", 1, true, false},
	{"rgb8", 3, false, false},
	{"rgba8", 3, true, false},
	{"gray16", 1, false, true},
	{"grayalpha16", 1, true, true},
	{"rgb16", 3, false, true},
	{"rgba16", 3, true, true},
}
