package png

import "encoding/binary"

// pngAdler32 returns the adler32 checksum continued from adler over p,
// eight bytes at a time: hash/adler32 (pure Go on every platform) takes
// a byte at a time and was a tenth of an encode and more of a decode.
// For eight bytes b0..b7, s1 grows by their sum and s2 by 8*s1 plus
// 8*b0 + 7*b1 + ... + 1*b7; the sums come from two multiplications of
// the even and odd bytes spread into 16-bit lanes, whose top lane then
// holds the weighted sum (no lane can carry: each is at most 255*20).
func pngAdler32(adler uint32, p []byte) uint32 {
	const mod = 65521
	// With 64-bit sums the modulo can wait: over 1 MiB s2 gains at most
	// 2^20 * (s1 + 255 * 2^20) < 2^61.
	const block = 1 << 20
	s1, s2 := uint64(adler&0xffff), uint64(adler>>16)
	for len(p) > 0 {
		q := p[:min(len(p), block)]
		p = p[len(q):]
		i := 0
		for ; i+8 <= len(q); i += 8 {
			v := binary.LittleEndian.Uint64(q[i:])
			even := v & 0x00ff00ff00ff00ff     // b0 b2 b4 b6
			odd := v >> 8 & 0x00ff00ff00ff00ff // b1 b3 b5 b7
			sum := (even + odd) * 0x0001000100010001 >> 48
			w := even*0x0008000600040002>>48 + odd*0x0007000500030001>>48
			s2 += 8*s1 + w
			s1 += sum
		}
		for ; i < len(q); i++ {
			s1 += uint64(q[i])
			s2 += s1
		}
		s1 %= mod
		s2 %= mod
	}
	return uint32(s2<<16 | s1)
}
