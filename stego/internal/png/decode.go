package png

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// pngMaxInflateRatio bounds how much deflate can expand: a 258-byte match
// costs at least 2 bits. A file whose IDAT data could not possibly
// inflate to the image it declares is refused before the pixel buffer is
// allocated, so a tiny file cannot make us allocate up to maxPixels.
const pngMaxInflateRatio = 258 * 8 / 2

// pngFormatErr says the data is not a PNG or is damaged (ErrFormat).
func pngFormatErr(format string, args ...any) error {
	return &inputError{kind: ErrFormat, msg: fmt.Sprintf("png: "+format, args...)}
}

// GrayAlpha reports whether data is a PNG of gray pixels that image/png
// decodes to NRGBA (NRGBA64 at 16 bits), which looks like colour: gray
// with alpha (colour type 4), or gray with a tRNS transparency key. A
// caller that keeps gray images gray needs to know: embedding in three
// channels would tint a gray image.
func GrayAlpha(data []byte) bool {
	_, _, _, colorType, _, err := pngHeader(data)
	return err == nil && (colorType == pngColorGrayAlpha || colorType == pngColorGray && hasTRNS(data))
}

// DecodesWide reports whether image/png decodes data to more than its
// header's colour model says: Adam7 interlacing (it decodes through the
// passes' images) or a tRNS transparency key before the image data (it
// decodes gray or RGB to NRGBA, 16-bit to NRGBA64).
func DecodesWide(data []byte) bool {
	_, _, _, _, interlaced, err := pngHeader(data)
	return err == nil && (interlaced || hasTRNS(data))
}

// hasTRNS reports whether a tRNS chunk comes before the image data (the
// only place image/png applies one).
func hasTRNS(data []byte) bool {
	for off := len(pngSignature); ; {
		c, next, err := pngNextChunk(data, off)
		if err != nil || c.typ == "IDAT" || c.typ == "IEND" {
			return false
		}
		if c.typ == "tRNS" {
			return true
		}
		off = next
	}
}

// pngHeader reads just the signature and IHDR chunk.
func pngHeader(data []byte) (width, height, bitDepth, colorType int, interlaced bool, err error) {
	if len(data) < len(pngSignature) || string(data[:len(pngSignature)]) != pngSignature {
		return 0, 0, 0, 0, false, pngFormatErr("not a PNG file")
	}
	c, _, err := pngNextChunk(data, len(pngSignature))
	if err != nil {
		return 0, 0, 0, 0, false, err
	}
	if c.typ != "IHDR" {
		return 0, 0, 0, 0, false, pngFormatErr("first chunk is %q, not IHDR", c.typ)
	}
	h := c.data
	if len(h) != 13 {
		return 0, 0, 0, 0, false, pngFormatErr("IHDR is %d bytes, want 13", len(h))
	}
	w32, h32 := binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint32(h[4:])
	if w32 == 0 || h32 == 0 || w32 > pngMaxDim || h32 > pngMaxDim {
		return 0, 0, 0, 0, false, pngFormatErr("bad dimensions %dx%d", w32, h32)
	}
	bitDepth, colorType = int(h[8]), int(h[9])
	ok := false
	switch colorType {
	case pngColorGray:
		ok = bitDepth == 1 || bitDepth == 2 || bitDepth == 4 || bitDepth == 8 || bitDepth == 16
	case pngColorPaletted:
		ok = bitDepth == 1 || bitDepth == 2 || bitDepth == 4 || bitDepth == 8
	case pngColorRGB, pngColorGrayAlpha, pngColorRGBA:
		ok = bitDepth == 8 || bitDepth == 16
	}
	if !ok {
		return 0, 0, 0, 0, false, pngFormatErr("bit depth %d with colour type %d", bitDepth, colorType)
	}
	if h[10] != 0 || h[11] != 0 || h[12] > 1 {
		return 0, 0, 0, 0, false, pngFormatErr("unknown compression, filter or interlace method")
	}
	return int(w32), int(h32), bitDepth, colorType, h[12] == 1, nil
}

type pngChunk struct {
	typ  string
	data []byte
}

// pngNextChunk parses and CRC-checks the chunk at data[off:] and returns
// it with the offset of the chunk after it.
func pngNextChunk(data []byte, off int) (pngChunk, int, error) {
	if len(data)-off < 12 {
		return pngChunk{}, 0, pngFormatErr("truncated chunk at offset %d", off)
	}
	n := binary.BigEndian.Uint32(data[off:])
	if n > pngMaxDim || int64(n) > int64(len(data)-off-12) {
		return pngChunk{}, 0, pngFormatErr("chunk at offset %d overruns the file", off)
	}
	end := off + 8 + int(n)
	typ := data[off+4 : off+8]
	if binary.BigEndian.Uint32(data[end:]) != crc32.ChecksumIEEE(data[off+4:end]) {
		return pngChunk{}, 0, pngFormatErr("%q chunk checksum mismatch", typ)
	}
	return pngChunk{typ: pngChunkType(typ), data: data[off+8 : end]}, end + 4, nil
}

// pngChunkType is typ as a string, allocated only for a rare type: a file
// may hold a million IDAT chunks, and a string each was 4 MB of garbage.
func pngChunkType(typ []byte) string {
	switch string(typ) { // compared without a conversion
	case "IDAT":
		return "IDAT"
	case "IHDR":
		return "IHDR"
	case "IEND":
		return "IEND"
	}
	return string(typ)
}

// Decode decodes a non-interlaced 8- or 16-bit gray, gray+alpha, RGB or
// RGBA PNG, with the samples image/png would produce. Images of more than
// maxPixels pixels are refused (ErrTooLarge) before anything proportional
// to their size is allocated. Other valid PNGs give ErrNotFastPath;
// damaged ones and data that is no PNG give ErrFormat.
func Decode(data []byte, maxPixels int64) (*Image, error) {
	width, height, depth, colorType, interlaced, err := pngHeader(data)
	if err != nil {
		return nil, err
	}
	if int64(width)*int64(height) > maxPixels {
		return nil, &inputError{kind: ErrTooLarge, msg: fmt.Sprintf("png: %dx%d is over the %d pixel limit", width, height, maxPixels)}
	}
	if colorType == pngColorPaletted || depth < 8 || interlaced {
		return nil, fmt.Errorf("%w: colour type %d, depth %d, interlaced %v", ErrNotFastPath, colorType, depth, interlaced)
	}

	// Walk the chunks in the order image/png enforces, so that whatever
	// we accept it accepts too. Only the first run of IDAT chunks holds
	// image data; image/png ignores IDATs after it and so do we.
	const (
		seenIHDR = iota
		seenPLTE
		seenIDAT
		seenIEND
	)
	stage := seenIHDR
	off := len(pngSignature) + 12 + 13
	idatStart, idatLen, inRun := -1, int64(0), false
	layout := &Layout{Width: width, Height: height, ColorType: colorType, Depth: depth}
	kept, idatChunks := 0, 0
	for stage != seenIEND {
		c, nextOff, err := pngNextChunk(data, off)
		if err != nil {
			return nil, err
		}
		if c.typ != "IDAT" {
			inRun = false
		}
		switch c.typ {
		case "IHDR":
			return nil, pngFormatErr("second IHDR chunk")
		case "PLTE":
			if stage != seenIHDR {
				return nil, pngFormatErr("misplaced PLTE chunk")
			}
			if colorType == pngColorGray || colorType == pngColorGrayAlpha {
				return nil, pngFormatErr("PLTE chunk in a gray image")
			}
			if np := len(c.data) / 3; len(c.data)%3 != 0 || np == 0 || np > 256 {
				return nil, pngFormatErr("bad PLTE length %d", len(c.data))
			}
			stage = seenPLTE // a suggested palette; truecolour decoders ignore it
			if kept+len(c.data) <= pngMaxKeptChunkBytes {
				// Kept: it suggests colours for limited displays, which
				// ±1 does not make wrong, and it is part of the file's look.
				kept += len(c.data)
				layout.Chunks = append(layout.Chunks, Chunk{Type: c.typ, Data: bytes.Clone(c.data)})
			}
		case "tRNS":
			if colorType == pngColorGrayAlpha || colorType == pngColorRGBA {
				return nil, pngFormatErr("tRNS chunk in an image with alpha")
			}
			if stage > seenPLTE || (colorType == pngColorGray && stage != seenIHDR) {
				return nil, pngFormatErr("misplaced tRNS chunk")
			}
			// A colour key turns into an alpha channel in image/png; leave
			// that to it.
			return nil, fmt.Errorf("%w: tRNS colour key", ErrNotFastPath)
		case "IDAT":
			if stage != seenIDAT {
				idatStart, inRun = off, true
				stage = seenIDAT
			}
			if inRun {
				if idatChunks == 0 {
					layout.Chunks = append(layout.Chunks, Chunk{Type: "IDAT"})
				} else if idatChunks == 1 {
					layout.IDATSize = int(idatLen) // the first chunk's size
				}
				idatChunks++
				idatLen += int64(len(c.data))
			} // else a detached later IDAT, ignored like image/png does
		case "IEND":
			if stage != seenIDAT {
				return nil, pngFormatErr("IEND before image data")
			}
			stage = seenIEND
		default:
			if c.typ[0]&0x20 != 0 && pngKeepChunk(c.typ) && kept+len(c.data) <= pngMaxKeptChunkBytes {
				kept += len(c.data)
				layout.Chunks = append(layout.Chunks, Chunk{Type: c.typ, Data: bytes.Clone(c.data)})
			}
		}
		off = nextOff
	}

	r := &Image{Width: width, Height: height, Depth16: depth == 16}
	switch colorType {
	case pngColorGray:
		r.Channels = 1
	case pngColorGrayAlpha:
		r.Channels, r.Alpha = 1, true
	case pngColorRGB:
		r.Channels = 3
	case pngColorRGBA:
		r.Channels, r.Alpha = 3, true
	}
	rs := r.rowStride()
	filteredLen := int64(height) * int64(rs+1)
	if filteredLen > math.MaxInt {
		return nil, &inputError{kind: ErrTooLarge, msg: fmt.Sprintf("png: %dx%d does not fit in memory on this platform", width, height)}
	}
	if filteredLen > (idatLen+16)*pngMaxInflateRatio {
		return nil, pngFormatErr("%d bytes of image data cannot hold a %dx%d image", idatLen, width, height)
	}

	// The filtered rows are inflated into the pixel buffer itself and
	// unfiltered in place, each row moving left by one byte per row above
	// it (its filter-type byte and theirs), so the image needs no second
	// buffer. The extra height bytes at the end are sliced away.
	buf := make([]byte, filteredLen)
	layout.Filters = make([]byte, height)
	if err := pngDecodeIDAT(pngIDATStream(data, idatStart), buf, rs, r.pixelStride(), layout); err != nil {
		return nil, err
	}
	r.Pix = buf[: height*rs : height*rs]
	r.Layout = layout
	return r, nil
}

// idatStream is the zlib stream a run of IDAT chunks holds: the chunks'
// data in order, as slices of the file. Most encoders cut the stream into
// chunks of 8–32 KB, and joining a photo's chunks was a copy of the whole
// compressed file into fresh memory; the inflater reads the chunks where
// they are instead (only a band of our own files that spans chunks is
// copied, see pngDecodeBands).
type idatStream struct {
	segs [][]byte
	ends []int // ends[i] is the stream offset where segs[i] ends
}

// pngSegmentBytes is what idatStream keeps per chunk: a slice header and
// an end offset.
const pngSegmentBytes = 24 + 8

// pngJoinIDAT reports whether a run of chunks holding n bytes of stream
// in chunks non-empty chunks is read joined after all: when a segment
// per chunk would take more memory than a copy of the stream, that is,
// for chunks of under 32 bytes on average. No encoder writes such chunks
// (libpng's are 8 KiB, image/png's 32 KiB), but a hostile file of 1-byte
// chunks would otherwise cost two and a half times its size in segments.
func pngJoinIDAT(chunks, n int) bool { return chunks > 1 && chunks*pngSegmentBytes > n }

// pngIDATStream returns the stream of the run of consecutive IDAT chunks
// at data[start:], whose framing was checked: the chunks in place, or
// joined into one segment (pngJoinIDAT). It allocates what StreamCost
// says, give or take the allocator's rounding.
func pngIDATStream(data []byte, start int) idatStream {
	chunks, n := 0, 0
	pngEachIDAT(data, start, func(p []byte) { chunks, n = chunks+1, n+len(p) })
	if pngJoinIDAT(chunks, n) {
		joined := make([]byte, 0, n)
		pngEachIDAT(data, start, func(p []byte) { joined = append(joined, p...) })
		return idatStream{segs: [][]byte{joined}, ends: []int{n}}
	}
	s := idatStream{segs: make([][]byte, 0, chunks), ends: make([]int, 0, chunks)}
	n = 0
	pngEachIDAT(data, start, func(p []byte) {
		n += len(p)
		s.segs = append(s.segs, p)
		s.ends = append(s.ends, n)
	})
	return s
}

// StreamCost is the memory Decode takes for a PNG's image data besides
// its pixels and the fixed overhead: a segment per IDAT chunk, or a copy
// of the stream when that is less (pngIDATStream). It depends on how the
// file is cut into chunks, not on the image's size (a 1×1 image may come
// with megabytes of chunks), so a caller budgeting memory adds it to the
// pixels' cost. It reads the chunks' framing only, and gives 0 for data
// that is no PNG whose IDAT chunks it can find.
func StreamCost(data []byte) int64 {
	if len(data) < len(pngSignature) || string(data[:len(pngSignature)]) != pngSignature {
		return 0
	}
	chunks, n := 0, 0
	for off := len(pngSignature); off+12 <= len(data); {
		l := int64(binary.BigEndian.Uint32(data[off:]))
		if l > int64(len(data)-off-12) {
			break // Decode refuses it
		}
		idat := string(data[off+4:off+8]) == "IDAT"
		if idat && l > 0 {
			chunks, n = chunks+1, n+int(l)
		} else if !idat && chunks > 0 {
			break // only the first run holds image data
		}
		off += 12 + int(l)
	}
	if pngJoinIDAT(chunks, n) {
		return int64(n)
	}
	return int64(chunks) * pngSegmentBytes
}

// pngEachIDAT calls fn with the data of each non-empty chunk of the run
// of consecutive IDAT chunks at data[start:], whose framing was checked.
func pngEachIDAT(data []byte, start int, fn func([]byte)) {
	for off := start; off+8 <= len(data) && string(data[off+4:off+8]) == "IDAT"; {
		l := int(binary.BigEndian.Uint32(data[off:]))
		if l > 0 {
			fn(data[off+8 : off+8+l])
		}
		off += 12 + l
	}
}

// len is the stream's length in bytes.
func (s idatStream) len() int {
	if len(s.ends) == 0 {
		return 0
	}
	return s.ends[len(s.ends)-1]
}

// seg is the index of the chunk holding stream offset off.
func (s idatStream) seg(off int) int {
	i, _ := slices.BinarySearch(s.ends, off+1)
	return i
}

// at is the byte at stream offset off.
func (s idatStream) at(off int) byte {
	i := s.seg(off)
	return s.segs[i][off-(s.ends[i]-len(s.segs[i]))]
}

// slice returns the stream's bytes [from, to): a slice of the file when
// they lie in one chunk, else a copy in *scratch, which it grows if need
// be.
func (s idatStream) slice(from, to int, scratch *[]byte) []byte {
	i := s.seg(from)
	if base := s.ends[i] - len(s.segs[i]); to <= s.ends[i] {
		return s.segs[i][from-base : to-base]
	}
	if cap(*scratch) < to-from {
		*scratch = make([]byte, 0, to-from)
	}
	out := (*scratch)[:0]
	for ; from < to; i++ {
		base := s.ends[i] - len(s.segs[i])
		end := min(to, s.ends[i])
		out = append(out, s.segs[i][from-base:end-base]...)
		from = end
	}
	return out
}

// copyTo copies the stream's bytes from offset from into dst.
func (s idatStream) copyTo(dst []byte, from int) {
	for i := s.seg(from); len(dst) > 0; i++ {
		n := copy(dst, s.segs[i][from-(s.ends[i]-len(s.segs[i])):])
		dst, from = dst[n:], from+n
	}
}

// index returns the stream offset of the first occurrence of m at or
// after from, also one that spans chunks, or -1.
func (s idatStream) index(m string, from int) int {
	for i := s.seg(from); i < len(s.segs); i++ {
		base := s.ends[i] - len(s.segs[i])
		lo := max(from, base)
		if j := bytes.Index(s.segs[i][lo-base:], []byte(m)); j >= 0 {
			return lo + j
		}
		// Those that start in this chunk and end in a later one.
		for p := max(lo, s.ends[i]-len(m)+1); p < s.ends[i] && p+len(m) <= s.len(); p++ {
			if s.hasAt(p, m) {
				return p
			}
		}
	}
	return -1
}

// hasAt reports whether m occurs at stream offset p.
func (s idatStream) hasAt(p int, m string) bool {
	for k := range len(m) {
		if s.at(p+k) != m[k] {
			return false
		}
	}
	return true
}

// pngPipelineMin is the filtered size from which inflating and
// unfiltering run on two goroutines. Inflating is about three quarters of
// the work, so this hides unfiltering and the checksum behind it.
const pngPipelineMin = 256 << 10

// pngDecodeIDAT inflates the zlib stream s (an IDAT run's) into buf,
// which it must fill exactly, unfilters the rows in place, checks the
// stream's adler32 and records the zlib header and the rows' filter types
// in layout.
func pngDecodeIDAT(s idatStream, buf []byte, rs, bpp int, layout *Layout) error {
	if s.len() < 2 {
		return pngFormatErr("missing zlib header")
	}
	h0, h1 := s.at(0), s.at(1)
	if h0&0x0f != 8 || h0>>4 > 7 || h1&0x20 != 0 || (uint(h0)<<8|uint(h1))%31 != 0 {
		return pngFormatErr("bad zlib header %#x %#x", h0, h1)
	}
	layout.ZlibHeader = [2]byte{h0, h1}
	if pngDecodeBands(s, buf, rs, bpp, layout.Filters) {
		return nil
	}
	u := pngUnfilterer{buf: buf, rs: rs, bpp: bpp, adler: 1, sum: true, filters: layout.Filters}
	var want uint32
	var err error
	if len(buf) < pngPipelineMin || runtime.GOMAXPROCS(0) == 1 {
		if want, err = inflateZlibBody(buf, s, nil); err == nil {
			err = u.advance(len(buf))
		}
	} else {
		// The inflater writes only at or beyond the last offset it
		// reported, the unfilterer only below it (see pngUnfilterer).
		progress := make(chan int, 32)
		var ierr error
		go func() {
			defer close(progress)
			want, ierr = inflateZlibBody(buf, s, progress)
		}()
		for avail := range progress {
			if err == nil {
				err = u.advance(avail)
			} // else keep draining: the inflater is bounded by len(buf)
		}
		if ierr != nil {
			err = ierr
		}
	}
	if err != nil {
		return err
	}
	if u.adler != want {
		return pngFormatErr("zlib checksum mismatch")
	}
	return nil
}

// pngSyncFlush is the empty stored block a deflate sync flush ends with.
const pngSyncFlush = "\x00\x00\xff\xff"

// pngDecodeBands is the parallel path for PNGs written the way Encode
// writes them: a zlib stream cut into bands by sync flushes, each band
// inflatable without the others' history, all but the last holding the
// same number of bytes of filtered rows. The bands are found by looking
// for the sync flush's bytes, which other encoders' streams can hold by
// chance; then a band fails to inflate on its own, or the whole stream's
// adler32 does not match, and ok is false: the caller decodes
// sequentially, overwriting whatever was written to buf. It reports
// whether buf now holds the verified, unfiltered image.
//
// A band that spans IDAT chunks is copied into its inflater's scratch
// buffer, so the stream is not joined (unless its chunks are tiny, see
// pngIDATStream): besides buf, the path holds at
// most one band per goroutine (a band longer than pngMaxBandIn is not
// ours, and is given up before it is copied).
func pngDecodeBands(s idatStream, buf []byte, rs, bpp int, filters []byte) bool {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(buf) < 2*pngBandBytes {
		return false
	}
	// Band i is the stream's bytes [cuts[i], cuts[i+1]), after the
	// 2-byte zlib header.
	// Encode's bands but the last hold over pngBandBytes/2 of filtered
	// rows each (rowsPerBand in encode.go), which bounds their number: a
	// stream with more markers (a hostile run of them) is not ours.
	maxIn, maxBands := pngMaxBandIn(rs), 2*len(buf)/pngBandBytes+1
	cuts := []int{2}
	for p := 2; ; {
		i := s.index(pngSyncFlush, p)
		if i < 0 {
			break
		}
		p = i + len(pngSyncFlush)
		if p-cuts[len(cuts)-1] > maxIn || len(cuts) == maxBands {
			return false
		}
		cuts = append(cuts, p)
	}
	cuts = append(cuts, s.len())
	last := len(cuts) - 2
	// Go's compress/flate ends every stream with an empty final stored
	// block, the same four bytes; then only the checksum follows.
	if last < 1 || cuts[last+1]-cuts[last] <= 4 || cuts[last+1]-cuts[last] > maxIn {
		return false
	}
	band := func(i int, scratch *[]byte) []byte { return s.slice(cuts[i], cuts[i+1], scratch) }

	// Encode's bands hold equal numbers of rows, but for the last: the
	// first band's size gives every band's place in buf, so each is
	// inflated straight into place, with no copy and no second buffer.
	// Its bands hold at most pngBandBytes (or one row): a first band
	// that inflates to more is not ours, and is given up early.
	var first inflater
	var scratch []byte
	stride, _, err := first.inflate(buf[:min(len(buf), max(pngBandBytes, rs+1))], band(0, &scratch), false)
	if err != nil || stride == 0 || last*stride >= len(buf) || len(buf)-last*stride > stride {
		return false
	}
	span := func(i int) []byte { return buf[i*stride : min((i+1)*stride, len(buf))] }

	// Unfiltering runs band by band in order, behind the inflaters; a
	// band's rows move only into bytes of bands already unfiltered or its
	// own. Whoever finishes inflating a band takes the unfilterer, if it
	// is free, and runs it as far as the inflated bands allow. (A
	// goroutine of its own for it, woken by each band, waited for a CPU
	// behind the inflaters, which yield to it only when preempted, and
	// did most of its work after them: a third of the decode's time.)
	var (
		want       uint32 // the zlib checksum after the last band
		failed     atomic.Bool
		inflated   = make([]atomic.Bool, last+1)
		mu         sync.Mutex   // held by whoever unfilters
		unfiltered atomic.Int64 // bands unfiltered; changed under mu
		u          = pngUnfilterer{buf: buf, rs: rs, bpp: bpp, adler: 1, sum: true, filters: filters}
	)
	ready := func() bool {
		n := int(unfiltered.Load())
		return n <= last && inflated[n].Load() && !failed.Load()
	}
	unfilter := func() {
		// After unlocking, look again: a band inflated meanwhile by a
		// goroutine that found the lock taken is nobody else's to unfilter.
		for ready() && mu.TryLock() {
			for ready() {
				n := int(unfiltered.Load())
				if err := u.advance(min((n+1)*stride, len(buf))); err != nil {
					failed.Store(true)
				}
				unfiltered.Add(1)
			}
			mu.Unlock()
		}
	}
	inflated[0].Store(true)

	var next atomic.Int64
	next.Store(1)
	work := func(own []byte) {
		var f inflater
		for {
			i := int(next.Add(1) - 1)
			if i > last {
				return
			}
			if !failed.Load() {
				out := span(i)
				n, rest, err := f.inflate(out, band(i, &own), i == last)
				switch {
				case err != nil:
				case n != len(out):
					err = errInflateCorrupt
				case i == last && len(rest) != 4:
					err = errInflateCorrupt
				case i == last:
					want = binary.BigEndian.Uint32(rest)
				}
				if err != nil {
					failed.Store(true)
				}
			}
			inflated[i].Store(true)
			unfilter()
		}
	}
	var wg sync.WaitGroup
	for range min(workers, last) - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(nil)
		}()
	}
	work(scratch) // the first band's scratch, done with
	wg.Wait()
	unfilter() // nothing is left unless a failure stopped it
	return !failed.Load() && int(unfiltered.Load()) == last+1 && u.adler == want
}

// pngMaxBandIn bounds the compressed size of one of Encode's bands for
// rows of rs bytes: a band holds at most pngBandBytes of filtered rows,
// or one row, and a literal's code is at most 15 bits, which leaves
// more than an eighth of the bound for block headers and the sync flush.
func pngMaxBandIn(rs int) int { return 2 * max(pngBandBytes, rs+1) }

// inflateZlibBody fills buf from the zlib stream s, past its 2-byte
// header, reporting the filled length on progress
// (if not nil) after each block, checks that the stream ends exactly
// there and returns the zlib checksum that follows it.
func inflateZlibBody(buf []byte, s idatStream, progress chan<- int) (uint32, error) {
	f := inflater{progress: progress}
	n, end, err := f.inflateStream(buf, s, 2, true)
	if progress != nil && err == nil {
		progress <- n
	}
	switch {
	case errors.Is(err, errInflateShort):
		return 0, pngFormatErr("too much image data")
	case err != nil:
		return 0, pngFormatErr("%v", err)
	case n != len(buf):
		return 0, pngFormatErr("not enough image data")
	case s.len()-end < 4:
		return 0, pngFormatErr("missing zlib checksum")
	case s.len()-end > 4:
		return 0, pngFormatErr("data after the end of the zlib stream")
	}
	var sum [4]byte
	s.copyTo(sum[:], end)
	return binary.BigEndian.Uint32(sum[:]), nil
}

// pngUnfilterer reverses the row filters in place as filtered rows become
// available: row y's filtered bytes start at y*(rs+1)+1 and its pixels
// end up at y*rs, so a row's pixels only ever overwrite filtered bytes of
// that row and the rows above it, which have been consumed already.
type pngUnfilterer struct {
	buf     []byte
	rs, bpp int
	next    int // first row not yet unfiltered
	zero    []byte
	adler   uint32 // of the filtered bytes, if sum
	sum     bool
	filters []byte // if not nil, gets each row's filter type
}

// advance unfilters every complete row within buf[:avail].
func (u *pngUnfilterer) advance(avail int) error {
	rs, frow := u.rs, u.rs+1
	end := avail / frow
	if end <= u.next {
		return nil
	}
	// Checksum the filtered bytes before unfiltering overwrites them.
	if u.sum {
		u.adler = pngAdler32(u.adler, u.buf[u.next*frow:end*frow])
	}
	for y := u.next; y < end; y++ {
		ft := u.buf[y*frow]
		if u.filters != nil {
			u.filters[y] = ft
		}
		src := u.buf[y*frow+1 : (y+1)*frow]
		dst := u.buf[y*rs : (y+1)*rs]
		var prev []byte
		if y > 0 {
			prev = u.buf[(y-1)*rs : y*rs]
		} else if ft >= pngFilterUp {
			if u.zero == nil {
				u.zero = make([]byte, rs)
			}
			prev = u.zero
		}
		switch ft {
		case pngFilterNone:
			copy(dst, src)
		case pngFilterSub:
			pngUnfilterSub(dst, src, u.bpp)
		case pngFilterUp:
			pngUnfilterUp(dst, src, prev)
		case pngFilterAvg:
			pngUnfilterAvg(dst, src, prev, u.bpp)
		case pngFilterPaeth:
			pngUnfilterPaeth(dst, src, prev, u.bpp)
		default:
			return pngFormatErr("bad filter type %d in row %d", ft, y)
		}
	}
	u.next = end
	return nil
}

// The unfilter loops below read src[i] before writing dst[i]; since dst
// starts at or before src in memory, that is all the in-place layout
// needs.

func pngUnfilterSub(dst, src []byte, bpp int) {
	n := len(src)
	dst = dst[:n]
	for i := 0; i < bpp && i < n; i++ {
		dst[i] = src[i]
	}
	for i := bpp; i < n; i++ {
		dst[i] = src[i] + dst[i-bpp]
	}
}

func pngUnfilterUp(dst, src, prev []byte) {
	n := len(src)
	dst, prev = dst[:n], prev[:n]
	for i := range n {
		dst[i] = src[i] + prev[i]
	}
}

func pngUnfilterAvg(dst, src, prev []byte, bpp int) {
	n := len(src)
	dst, prev = dst[:n], prev[:n]
	for i := 0; i < bpp && i < n; i++ {
		dst[i] = src[i] + prev[i]/2
	}
	if n <= bpp {
		return
	}
	switch bpp {
	case 3:
		pngUnfilterAvg3(dst, src, prev)
		return
	case 4:
		pngUnfilterAvg4(dst, src, prev)
		return
	}
	for i := bpp; i < n; i++ {
		dst[i] = src[i] + uint8((int(dst[i-bpp])+int(prev[i]))/2)
	}
}

// pngUnfilterAvg3 and pngUnfilterAvg4 are pngUnfilterAvg's loop for 3-
// and 4-byte pixels, keeping the pixel to the left in registers like
// pngUnfilterPaeth3 and pngUnfilterPaeth4.
func pngUnfilterAvg3(dst, src, prev []byte) {
	a0, a1, a2 := uint(dst[0]), uint(dst[1]), uint(dst[2])
	for i := 3; i+3 <= len(src); i += 3 {
		s, p, d := src[i:i+3], prev[i:i+3], dst[i:i+3]
		a0 = uint(s[0] + uint8((a0+uint(p[0]))>>1))
		a1 = uint(s[1] + uint8((a1+uint(p[1]))>>1))
		a2 = uint(s[2] + uint8((a2+uint(p[2]))>>1))
		d[0], d[1], d[2] = byte(a0), byte(a1), byte(a2)
	}
}

func pngUnfilterAvg4(dst, src, prev []byte) {
	a0, a1, a2, a3 := uint(dst[0]), uint(dst[1]), uint(dst[2]), uint(dst[3])
	for i := 4; i+4 <= len(src); i += 4 {
		s, p, d := src[i:i+4], prev[i:i+4], dst[i:i+4]
		a0 = uint(s[0] + uint8((a0+uint(p[0]))>>1))
		a1 = uint(s[1] + uint8((a1+uint(p[1]))>>1))
		a2 = uint(s[2] + uint8((a2+uint(p[2]))>>1))
		a3 = uint(s[3] + uint8((a3+uint(p[3]))>>1))
		d[0], d[1], d[2], d[3] = byte(a0), byte(a1), byte(a2), byte(a3)
	}
}

func pngUnfilterPaeth(dst, src, prev []byte, bpp int) {
	n := len(src)
	dst, prev = dst[:n], prev[:n]
	for i := 0; i < bpp && i < n; i++ {
		dst[i] = src[i] + prev[i]
	}
	if n <= bpp {
		return
	}
	switch bpp {
	case 3:
		pngUnfilterPaeth3(dst, src, prev)
		return
	case 4:
		pngUnfilterPaeth4(dst, src, prev)
		return
	}
	for i := bpp; i < n; i++ {
		dst[i] = src[i] + pngPaethFast(int(dst[i-bpp]), int(prev[i]), int(prev[i-bpp]))
	}
}

// signShift moves an int's sign over all its bits: x>>signShift is -1
// for a negative x and 0 otherwise, on 32- and 64-bit targets alike.
const signShift = bits.UintSize - 1

// pngPaethFast is pngPaeth without a branch, for the unfilter loops,
// where each byte waits on the one a pixel before it: the choice is made
// with masks rather than left to the compiler.
func pngPaethFast(a, b, c int) uint8 {
	pa := b - c
	pb := a - c
	pc := pa + pb
	pa = (pa ^ pa>>signShift) - pa>>signShift
	pb = (pb ^ pb>>signShift) - pb>>signShift
	pc = (pc ^ pc>>signShift) - pc>>signShift
	m := (pc - pb) >> signShift // all ones where pc < pb: c beats b
	p := b ^ (b^c)&m
	q := pb ^ (pb^pc)&m
	m = (q - pa) >> signShift // all ones where q < pa: a loses
	return uint8(a ^ (a^p)&m)
}

// pngUnfilterPaeth3 and pngUnfilterPaeth4 are pngUnfilterPaeth's loop
// for 3- and 4-byte pixels, keeping the pixel to the left in registers
// instead of reading back what was just stored.
func pngUnfilterPaeth3(dst, src, prev []byte) {
	a0, a1, a2 := int(dst[0]), int(dst[1]), int(dst[2])
	c0, c1, c2 := int(prev[0]), int(prev[1]), int(prev[2])
	for i := 3; i+3 <= len(src); i += 3 {
		s, p, d := src[i:i+3], prev[i:i+3], dst[i:i+3]
		b0, b1, b2 := int(p[0]), int(p[1]), int(p[2])
		a0 = int(s[0] + pngPaethFast(a0, b0, c0))
		a1 = int(s[1] + pngPaethFast(a1, b1, c1))
		a2 = int(s[2] + pngPaethFast(a2, b2, c2))
		d[0], d[1], d[2] = byte(a0), byte(a1), byte(a2)
		c0, c1, c2 = b0, b1, b2
	}
}

func pngUnfilterPaeth4(dst, src, prev []byte) {
	a0, a1, a2, a3 := int(dst[0]), int(dst[1]), int(dst[2]), int(dst[3])
	c0, c1, c2, c3 := int(prev[0]), int(prev[1]), int(prev[2]), int(prev[3])
	for i := 4; i+4 <= len(src); i += 4 {
		s, p, d := src[i:i+4], prev[i:i+4], dst[i:i+4]
		b0, b1, b2, b3 := int(p[0]), int(p[1]), int(p[2]), int(p[3])
		a0 = int(s[0] + pngPaethFast(a0, b0, c0))
		a1 = int(s[1] + pngPaethFast(a1, b1, c1))
		a2 = int(s[2] + pngPaethFast(a2, b2, c2))
		a3 = int(s[3] + pngPaethFast(a3, b3, c3))
		d[0], d[1], d[2], d[3] = byte(a0), byte(a1), byte(a2), byte(a3)
		c0, c1, c2, c3 = b0, b1, b2, b3
	}
}
