package stego

import (
	"encoding/binary"
	"math/bits"
)

// maxPermutedUnits is the largest domain whose half blocks fit the
// round tables' 16-bit entries. Nothing checks it: it is far above the
// units of any image a pixel cap lets through (a 50 MP RGB cover has
// under 19 M).
const maxPermutedUnits = 1 << 32

// permutation is a keyed pseudo-random permutation of [0, n), evaluated
// in O(1) time and memory per index: a four-round unbalanced Feistel
// network over the smallest power-of-two domain covering n, restricted to
// [0, n) by cycle walking (the construction format-preserving encryption
// uses). The stream order (order.go) permutes units of eight samples with
// it, which spreads the embedded bits uniformly over the image without
// materialising a shuffled index array (19 M entries for a 50 MP cover).
//
// The round functions are a 64-bit mixer tabulated over the half block:
// halves are at most 16 bits, so the four tables take at most 512 KiB
// (a few KiB for a photograph, which keeps them in L1) and each round is
// one load and one xor. The mixer is not a PRF: the permutation hides
// where data sits from statistical tools, while secrecy of the data
// rests on the AEAD.
type permutation struct {
	n         uint64
	rightBits uint // the left half has width - rightBits bits
	rightMask uint64
	tables    [4][]uint16 // rounds 0 and 2 map R to L, 1 and 3 map L to R
}

// newPermutation builds the permutation of [0, n), 1 <= n <=
// maxPermutedUnits, for a 32-byte seed.
func newPermutation(n int, seed [32]byte) *permutation {
	width := max(2, uint(bits.Len64(uint64(n-1))))
	leftBits, rightBits := width/2, width-width/2
	p := &permutation{n: uint64(n), rightBits: rightBits, rightMask: 1<<rightBits - 1}
	for i := range p.tables {
		inBits, outBits := rightBits, leftBits
		if i%2 == 1 {
			inBits, outBits = leftBits, rightBits
		}
		key := binary.LittleEndian.Uint64(seed[8*i:])
		t := make([]uint16, 1<<inBits)
		for x := range t {
			t[x] = uint16(mix(uint64(x)^key) & (1<<outBits - 1))
		}
		p.tables[i] = t
	}
	return p
}

// mix is the SplitMix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (p *permutation) encrypt(x uint64) uint64 {
	l, r := x>>p.rightBits, x&p.rightMask
	l ^= uint64(p.tables[0][r])
	r ^= uint64(p.tables[1][l])
	l ^= uint64(p.tables[2][r])
	r ^= uint64(p.tables[3][l])
	return l<<p.rightBits | r
}

func (p *permutation) decrypt(x uint64) uint64 {
	l, r := x>>p.rightBits, x&p.rightMask
	r ^= uint64(p.tables[3][l])
	l ^= uint64(p.tables[2][r])
	r ^= uint64(p.tables[1][l])
	l ^= uint64(p.tables[0][r])
	return l<<p.rightBits | r
}

// at returns π(i): the unit at stream position i.
func (p *permutation) at(i int) int {
	x := p.encrypt(uint64(i))
	for x >= p.n {
		x = p.encrypt(x)
	}
	return int(x)
}

// indexes sets out[i] = π⁻¹(from+i): the stream position of unit
// from+i. Walking the inverse cycle is exact because the domain
// permutation is a bijection.
func (p *permutation) indexes(from int, out []int) {
	for i := range out {
		out[i] = int(p.decrypt(uint64(from + i)))
	}
	for i, x := range out {
		for uint64(x) >= p.n {
			x = int(p.decrypt(uint64(x)))
		}
		out[i] = x
	}
}
