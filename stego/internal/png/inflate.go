package png

import (
	"encoding/binary"
	"errors"
	"slices"
)

// A DEFLATE (RFC 1951) decoder specialised for decoding PNG image data
// into a buffer whose size is known in advance. Photographs compress to
// long runs of Huffman-coded literals, and general-purpose decoders that
// read a byte at a time through an interface spend most of the decode
// there. This one keeps 56–63 bits buffered, refilled eight bytes at a
// time, and decodes each symbol with one table lookup (two for long
// codes); it is about twice as fast as klauspost's on our covers.
// Correctness is checked against klauspost and the standard library by
// FuzzInflate, and every PNG decode is checked end to end by the zlib
// adler32.

var (
	errInflateCorrupt = errors.New("inflate: corrupt stream")
	errInflateShort   = errors.New("inflate: output larger than expected")
)

const (
	maxDistance   = 32768
	litTableBits  = 10
	distTableBits = 8
	subtableFlag  = 1 << 31
)

// inflater decodes from a stream, which may be cut into IDAT chunks,
// into out[:cap]. Its zero value is ready.
type inflater struct {
	src    idatStream
	seg    int    // the chunk of src being read
	in     []byte // src.segs[seg]
	base   int    // the stream offset of in[0]
	pos    int    // next byte of in to load
	bits   uint64 // buffered bits, least significant first
	nbits  uint   // how many of bits are valid
	padded int    // zero bytes loaded past the end of the stream

	lit, dist []uint32 // current block's decoding tables
	fixedLit  []uint32
	fixedDist []uint32
	// Dynamic blocks' tables are built into these, reused block after
	// block: a photo's stream has hundreds of blocks, and a fresh table
	// each was megabytes of garbage per image.
	litBuf, distBuf, clBuf []uint32

	// progress, if not nil, receives after each block how much of the
	// output no later back-reference can read (all but the last 32 KiB),
	// so a consumer may work on, even overwrite, the output behind the
	// decoder.
	progress chan<- int
}

// refill makes at least 56 bits available. Within a chunk it loads
// eight bytes at once; near a chunk's end it loads a byte at a time,
// moving on to the next chunk. Past the end of the stream it loads zero
// bytes and counts them, so a truncated stream is detected when those
// bits are consumed (see overrun).
func (f *inflater) refill() {
	if f.pos+8 <= len(f.in) {
		f.bits |= binary.LittleEndian.Uint64(f.in[f.pos:]) << f.nbits
		f.pos += int(63-f.nbits) >> 3
		f.nbits |= 56
		return
	}
	for f.nbits <= 56 {
		if f.pos == len(f.in) && f.seg+1 < len(f.src.segs) {
			f.seek(f.base + f.pos)
		}
		if f.pos < len(f.in) {
			f.bits |= uint64(f.in[f.pos]) << f.nbits
			f.pos++
		} else {
			f.padded++
		}
		f.nbits += 8
	}
}

// seek moves the input to stream offset off (at most the stream's end).
func (f *inflater) seek(off int) {
	i := min(f.src.seg(off), len(f.src.segs)-1)
	f.seg, f.in = i, f.src.segs[i]
	f.base = f.src.ends[i] - len(f.in)
	f.pos = off - f.base
}

// offset is the stream offset of the next byte to load.
func (f *inflater) offset() int { return f.base + f.pos }

// overrun reports whether bits beyond the end of the input were used.
func (f *inflater) overrun() bool { return uint(f.padded)*8 > f.nbits }

func (f *inflater) take(n uint) uint64 {
	v := f.bits & (1<<n - 1)
	f.bits >>= n
	f.nbits -= n
	return v
}

// alignToByte drops the bits up to the next byte boundary and gives back
// whole buffered bytes to the input, so that offset() is what follows.
func (f *inflater) alignToByte() {
	f.take(f.nbits % 8)
	f.seek(f.offset() - (int(f.nbits/8) - f.padded))
	f.bits, f.nbits, f.padded = 0, 0, 0
}

// inflate decodes a complete deflate stream from in into out, which must
// have room for all of it, and returns the output length and the input
// after the stream. With final false it also accepts a stream that stops
// at a block boundary at the end of in without a final block (a band of
// a parallel-compressed PNG, which ends in a sync flush).
func (f *inflater) inflate(out, in []byte, requireFinal bool) (n int, rest []byte, err error) {
	n, end, err := f.inflateStream(out, idatStream{segs: [][]byte{in}, ends: []int{len(in)}}, 0, requireFinal)
	if err != nil {
		return n, nil, err
	}
	return n, in[end:], nil
}

// inflateStream is inflate for the deflate stream that starts at offset
// from of src; it returns the offset after the stream instead of the
// rest.
func (f *inflater) inflateStream(out []byte, src idatStream, from int, requireFinal bool) (n, end int, err error) {
	*f = inflater{fixedLit: f.fixedLit, fixedDist: f.fixedDist, litBuf: f.litBuf, distBuf: f.distBuf, clBuf: f.clBuf, progress: f.progress, src: src}
	f.seek(from)
	o := 0
	for {
		if !requireFinal && f.offset() >= src.len() && f.nbits < 8 && f.padded == 0 && f.bits == 0 {
			return o, f.offset(), nil // clean end of a band
		}
		f.refill()
		final := f.take(1) == 1
		switch f.take(2) {
		case 0:
			if o, err = f.stored(out, o); err != nil {
				return o, 0, err
			}
		case 1:
			if f.fixedLit == nil {
				f.buildFixed()
			}
			f.lit, f.dist = f.fixedLit, f.fixedDist
			if o, err = f.huffman(out, o); err != nil {
				return o, 0, err
			}
		case 2:
			if err := f.dynamicTables(); err != nil {
				return o, 0, err
			}
			if o, err = f.huffman(out, o); err != nil {
				return o, 0, err
			}
		default:
			return o, 0, errInflateCorrupt
		}
		if f.overrun() {
			return o, 0, errInflateCorrupt
		}
		if f.progress != nil && o > maxDistance {
			// Back-references read the output itself, so only what lies
			// beyond the longest distance is final for the consumer.
			f.progress <- o - maxDistance
		}
		if final {
			f.alignToByte()
			return o, f.offset(), nil
		}
	}
}

func (f *inflater) stored(out []byte, o int) (int, error) {
	f.alignToByte()
	at := f.offset()
	if at+4 > f.src.len() {
		return o, errInflateCorrupt
	}
	var hdr [4]byte
	f.src.copyTo(hdr[:], at)
	n := int(binary.LittleEndian.Uint16(hdr[:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(hdr[2:]) {
		return o, errInflateCorrupt
	}
	at += 4
	if at+n > f.src.len() {
		return o, errInflateCorrupt
	}
	if o+n > len(out) {
		return o, errInflateShort
	}
	f.src.copyTo(out[o:o+n], at)
	f.seek(at + n)
	return o + n, nil
}

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder     = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// lookup decodes one symbol with table t (root of rootBits bits).
func (f *inflater) lookup(t []uint32, rootBits uint) (int, bool) {
	e := t[f.bits&(1<<rootBits-1)]
	if e&subtableFlag != 0 {
		sub := e &^ subtableFlag
		subBits := uint(sub & 15)
		e = t[int(sub>>4)+int(f.bits>>rootBits&(1<<subBits-1))]
	}
	n := uint(e & 15)
	if n == 0 || n > f.nbits {
		return 0, false
	}
	f.bits >>= n
	f.nbits -= n
	return int(e >> 4), true
}

// huffman decodes one Huffman-coded block's symbols. The loop keeps the
// bit buffer in locals and refills inline while at least 8 input bytes
// remain; near the end of the input it goes through refill. (Closures
// would be tidier but stop the compiler keeping the buffer in registers.)
func (f *inflater) huffman(out []byte, o int) (int, error) {
	in, pos, bitbuf, nbits := f.in, f.pos, f.bits, f.nbits
	lit, dist := f.lit, f.dist
	const litMask, distMask = 1<<litTableBits - 1, 1<<distTableBits - 1
	var err error
	for {
		if pos+8 <= len(in) {
			bitbuf |= binary.LittleEndian.Uint64(in[pos:]) << nbits
			pos += int(63-nbits) >> 3
			nbits |= 56
		} else {
			f.pos, f.bits, f.nbits = pos, bitbuf, nbits
			f.refill()
			in, pos, bitbuf, nbits = f.in, f.pos, f.bits, f.nbits
		}
		e := lit[bitbuf&litMask]
		if e&subtableFlag != 0 {
			sub := e &^ subtableFlag
			e = lit[int(sub>>4)+int(bitbuf>>litTableBits&(1<<(sub&15)-1))]
		}
		n := uint(e & 15)
		if n == 0 || n > nbits {
			err = errInflateCorrupt
			break
		}
		bitbuf >>= n
		nbits -= n
		sym := int(e >> 4)
		if sym < 256 {
			if o >= len(out) {
				err = errInflateShort
				break
			}
			out[o] = byte(sym)
			o++
			// Two more literals fit in the 41+ bits still buffered when
			// their codes are in the root table (at most 10 bits each).
			e = lit[bitbuf&litMask]
			if e < 256<<4 && e&15 != 0 && o < len(out) {
				n = uint(e & 15)
				bitbuf >>= n
				nbits -= n
				out[o] = byte(e >> 4)
				o++
				e = lit[bitbuf&litMask]
				if e < 256<<4 && e&15 != 0 && o < len(out) {
					n = uint(e & 15)
					bitbuf >>= n
					nbits -= n
					out[o] = byte(e >> 4)
					o++
				}
			}
			continue
		}
		if sym == 256 {
			break
		}
		sym -= 257
		if sym >= len(lengthBase) {
			err = errInflateCorrupt
			break
		}
		eb := uint(lengthExtra[sym])
		length := int(lengthBase[sym]) + int(bitbuf&(1<<eb-1))
		bitbuf >>= eb
		nbits -= eb
		if pos+8 <= len(in) {
			bitbuf |= binary.LittleEndian.Uint64(in[pos:]) << nbits
			pos += int(63-nbits) >> 3
			nbits |= 56
		} else {
			f.pos, f.bits, f.nbits = pos, bitbuf, nbits
			f.refill()
			in, pos, bitbuf, nbits = f.in, f.pos, f.bits, f.nbits
		}
		e = dist[bitbuf&distMask]
		if e&subtableFlag != 0 {
			sub := e &^ subtableFlag
			e = dist[int(sub>>4)+int(bitbuf>>distTableBits&(1<<(sub&15)-1))]
		}
		n = uint(e & 15)
		dsym := int(e >> 4)
		if n == 0 || n > nbits || dsym >= len(distBase) {
			err = errInflateCorrupt
			break
		}
		bitbuf >>= n
		nbits -= n
		eb = uint(distExtra[dsym])
		d := int(distBase[dsym]) + int(bitbuf&(1<<eb-1))
		bitbuf >>= eb
		nbits -= eb
		if d > o {
			err = errInflateCorrupt
			break
		}
		if o+length > len(out) {
			err = errInflateShort
			break
		}
		if d >= length {
			copy(out[o:o+length], out[o-d:])
		} else {
			for i := range length { // overlapping: a run
				out[o+i] = out[o-d+i]
			}
		}
		o += length
	}
	f.pos, f.bits, f.nbits = pos, bitbuf, nbits
	return o, err
}

func (f *inflater) buildFixed() {
	var lengths [288]uint8
	for i := range lengths {
		switch {
		case i < 144:
			lengths[i] = 8
		case i < 256:
			lengths[i] = 9
		case i < 280:
			lengths[i] = 7
		default:
			lengths[i] = 8
		}
	}
	f.fixedLit, _ = buildTable(nil, lengths[:], litTableBits)
	var dl [30]uint8
	for i := range dl {
		dl[i] = 5
	}
	f.fixedDist, _ = buildTable(nil, dl[:], distTableBits)
}

// dynamicTables reads a dynamic block's code lengths and builds its tables.
func (f *inflater) dynamicTables() error {
	f.refill()
	nlit := int(f.take(5)) + 257
	ndist := int(f.take(5)) + 1
	nclen := int(f.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return errInflateCorrupt
	}
	var clLengths [19]uint8
	for i := range nclen {
		f.refill()
		clLengths[clOrder[i]] = uint8(f.take(3))
	}
	clTable, err := buildTable(f.clBuf, clLengths[:], 7)
	f.clBuf = clTable
	if err != nil {
		return err
	}
	var lengths [286 + 30]uint8
	for i := 0; i < nlit+ndist; {
		f.refill()
		sym, ok := f.lookup(clTable, 7)
		if !ok {
			return errInflateCorrupt
		}
		var rep int
		var val uint8
		switch {
		case sym < 16:
			lengths[i] = uint8(sym)
			i++
			continue
		case sym == 16:
			if i == 0 {
				return errInflateCorrupt
			}
			rep, val = 3+int(f.take(2)), lengths[i-1]
		case sym == 17:
			rep = 3 + int(f.take(3))
		default:
			rep = 11 + int(f.take(7))
		}
		if i+rep > nlit+ndist {
			return errInflateCorrupt
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return errInflateCorrupt // no end-of-block code
	}
	if f.lit, err = buildTable(f.litBuf, lengths[:nlit], litTableBits); err != nil {
		return err
	}
	f.litBuf = f.lit
	f.dist, err = buildTable(f.distBuf, lengths[nlit:nlit+ndist], distTableBits)
	f.distBuf = f.dist
	return err
}

// buildTable builds a canonical-Huffman decoding table: a root table of
// rootBits indexed by the next input bits, entries symbol<<4 | length,
// and for longer codes subtables referenced by subtableFlag | offset<<4 |
// subtable bits. Over-subscribed code sets are corrupt; incomplete ones
// are allowed (zlib allows them too) and their holes decode as corrupt.
// The table is built in buf's storage when it is large enough (buf's
// old contents are overwritten), else in a new slice.
func buildTable(buf []uint32, lengths []uint8, rootBits uint) ([]uint32, error) {
	var count [16]int
	maxLen := uint(0)
	for _, l := range lengths {
		count[l]++
		if l > 0 {
			maxLen = max(maxLen, uint(l))
		}
	}
	count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return nil, errInflateCorrupt
		}
	}
	var next [16]int
	code := 0
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	table := buf[:0]
	if cap(table) < 1<<rootBits {
		table = make([]uint32, 0, 1<<rootBits)
	}
	table = table[:1<<rootBits]
	clear(table)
	if count[1] == 1 && maxLen == 1 {
		// One code of one bit (a distance table for a single distance
		// is the usual case): like Go's and zlib's decoders, read either
		// bit value as that symbol.
		for sym, l := range lengths {
			if l == 1 {
				for i := range table {
					table[i] = uint32(sym)<<4 | 1
				}
			}
		}
		return table, nil
	}
	subBits := uint(0)
	if maxLen > rootBits {
		subBits = maxLen - rootBits
	}
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		n := uint(l)
		rev := reverseBits(next[n], n)
		next[n]++
		entry := uint32(sym)<<4 | uint32(n)
		if n <= rootBits {
			for i := rev; i < len(table) && i < 1<<rootBits; i += 1 << n {
				table[i] = entry
			}
			continue
		}
		root := rev & (1<<rootBits - 1)
		if table[root]&subtableFlag == 0 {
			table[root] = subtableFlag | uint32(len(table))<<4 | uint32(subBits)
			n := len(table)
			table = slices.Grow(table, 1<<subBits)[:n+1<<subBits]
			clear(table[n:]) // buf's old entries
		}
		base := int(table[root]&^subtableFlag) >> 4
		for i := rev >> rootBits; i < 1<<subBits; i += 1 << (n - rootBits) {
			table[base+i] = entry
		}
	}
	return table, nil
}

func reverseBits(v int, n uint) int {
	r := 0
	for range n {
		r = r<<1 | v&1
		v >>= 1
	}
	return r
}
