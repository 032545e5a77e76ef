package png

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// Encoder tuning, measured on the 1920x1280 test cover, clean and with ±1
// noise on half the samples (TestPNGCover, BenchmarkEncodePNG), and on
// synthetic images.
//
// Photos, clean or stego-noised, barely repeat: after prediction their
// residuals are close to independent, so LZ matching buys at most a
// percent or two over plain Huffman coding of the residuals while costing
// 4-8x the time (fast LZ levels even lose on noised photos: their short
// matches cost more than the literals they replace).
//
// Synthetic content (screenshots, flat areas, gradients, upscaled images)
// is the opposite: LZ wins by 10x or more there. The two kinds differ
// starkly in how often a byte equals its left or upper neighbour (about
// 11% in the photo, noised or not; over 90% in synthetic images), so each
// band measures that on a sample of rows and picks Huffman-only or LZ.
//
// The row filters are not ours to choose: they are the cover's, or
// libpng's adaptive choice (see Layout), since a filter mix of our own
// would identify our files. (An earlier version used Avg on every row of
// photos and Paeth on synthetic bands.)
const (
	// pngBandBytes is the filtered size a compression band aims at. Bands
	// are compressed independently, so this sets the parallelism grain and
	// the granularity of the coder choice; each band boundary costs a
	// fresh Huffman table and an empty LZ window, which at this size is
	// well under 0.1% of the output.
	pngBandBytes = 256 << 10
	// pngLZMinRepeat is the fraction of bytes equal to a neighbour above
	// which a band is treated as synthetic.
	pngLZMinRepeat = 0.35
	// pngLZLevel is the klauspost level used for synthetic bands: on such
	// data it is nearly as fast as level 1 and often much smaller.
	pngLZLevel = 5
	// pngInFlightPerWorker bounds how many compressed bands may wait to
	// be written per worker, which bounds memory when w is slow.
	pngInFlightPerWorker = 2
)

const (
	pngColorGray      = 0
	pngColorRGB       = 2
	pngColorPaletted  = 3
	pngColorGrayAlpha = 4
	pngColorRGBA      = 6

	pngFilterNone  = 0
	pngFilterSub   = 1
	pngFilterUp    = 2
	pngFilterAvg   = 3
	pngFilterPaeth = 4

	pngSignature = "\x89PNG\r\n\x1a\n"
	// pngMaxDim is the PNG limit on width and height (2^31-1).
	pngMaxDim = 1<<31 - 1
)

// pngBandEncoderPool recycles per-worker state across encodes: the
// deflaters alone are several hundred KiB each and costly to set up.
var pngBandEncoderPool = sync.Pool{New: func() any { return new(pngBandEncoder) }}

// pngChunkPool recycles the buffers bands are compressed into.
var pngChunkPool = sync.Pool{New: func() any { return new([]byte) }}

// pngBandEncoder is one worker's reusable state.
type pngBandEncoder struct {
	filtered []byte
	zero     []byte        // a row of zeros, the one above row 0
	huff     *flate.Writer // Huffman-only
	lz       *flate.Writer // pngLZLevel
	out      pngAppendWriter
}

// pngAppendWriter collects compressed output in a slice.
type pngAppendWriter struct{ b []byte }

func (w *pngAppendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// pngBand is one band's result, handed from a worker to the writer.
type pngBand struct {
	data  []byte // deflate data
	adler uint32 // adler32 of this band's filtered bytes
	n     int    // number of filtered bytes
	err   error
	done  chan struct{}
}

// Encode writes r as a non-interlaced PNG of the matching colour type
// and bit depth, with r.Layout's structure if it has one of r's shape
// and libpng's otherwise (see Layout): the same chunks in the same
// order, IDAT chunks of the same size, the same zlib header and each row
// filtered as the layout says or, for libpng's, as libpng's adaptive
// choice would.
//
// The rows are cut into horizontal bands that are filtered and deflated
// in parallel, each with its own choice of coder; every band but the
// last ends with a sync flush so it stops on a byte boundary, which makes
// the concatenation of the bands' outputs a single valid deflate stream.
// The zlib checksum is combined from the bands' adler32s.
func Encode(w io.Writer, r *Image) error {
	colorType, depth, err := pngFormatOf(r)
	if err != nil {
		return err
	}
	layout := layoutFor(r, colorType, depth)
	frow := r.rowStride() + 1
	rowsPerBand := max(1, pngBandBytes/frow)
	nBands := (r.Height + rowsPerBand - 1) / rowsPerBand

	var head [len(pngSignature) + 12 + 13]byte
	copy(head[:], pngSignature)
	ihdr := head[len(pngSignature):]
	binary.BigEndian.PutUint32(ihdr[8:], uint32(r.Width))
	binary.BigEndian.PutUint32(ihdr[12:], uint32(r.Height))
	ihdr[16], ihdr[17] = byte(depth), byte(colorType)
	// compression, filter and interlace methods are all 0
	pngFinishChunk(ihdr[:8+13+4], "IHDR")
	if _, err := w.Write(head[:]); err != nil {
		return fmt.Errorf("png: write header: %w", err)
	}
	cw := pngChunkWriter{w: w}
	wroteIDAT := false
	for _, c := range layout.Chunks {
		if c.Type == "IDAT" {
			if !wroteIDAT {
				if err := encodeIDAT(&cw, r, layout, rowsPerBand, nBands); err != nil {
					return err
				}
			}
			wroteIDAT = true
			continue
		}
		if err := cw.chunk(c.Type, c.Data); err != nil {
			return err
		}
	}
	if !wroteIDAT {
		return fmt.Errorf("png: layout has no IDAT")
	}
	return cw.chunk("IEND", nil)
}

// encodeIDAT writes the image data as IDAT chunks of layout.IDATSize.
func encodeIDAT(cw *pngChunkWriter, r *Image, layout *Layout, rowsPerBand, nBands int) error {
	bands := make([]pngBand, nBands)
	for i := range bands {
		bands[i].done = make(chan struct{})
	}
	bandRows := func(i int) (int, int) {
		return i * rowsPerBand, min(r.Height, (i+1)*rowsPerBand)
	}
	workers := min(runtime.GOMAXPROCS(0), nBands)
	// LZ matches must stay within the window the zlib header declares
	// (libpng declares a smaller one for small images).
	lzOK := layout.window() >= 32<<10

	// A worker takes a token before it claims a band and the writer gives
	// it back once the band is written. Claiming after the token (not
	// before) is what rules out deadlock: the tokens are always held by
	// the lowest unwritten bands.
	tokens := make(chan struct{}, pngInFlightPerWorker*workers)
	quit := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := pngBandEncoderPool.Get().(*pngBandEncoder)
			defer pngBandEncoderPool.Put(enc)
			for {
				select {
				case <-quit:
					return
				case tokens <- struct{}{}:
				}
				i := int(next.Add(1)) - 1
				if i >= nBands {
					return
				}
				b := &bands[i]
				y0, y1 := bandRows(i)
				b.data, b.adler, b.n, b.err = enc.encode(r, layout, y0, y1, i == nBands-1, lzOK)
				close(b.done)
			}
		}()
	}

	cw.startIDAT(layout.IDATSize)
	werr := func() error {
		if err := cw.write(layout.ZlibHeader[:]); err != nil {
			return err
		}
		adler := uint32(1)
		for i := range bands {
			b := &bands[i]
			<-b.done
			if b.err != nil {
				return b.err
			}
			adler = pngAdler32Combine(adler, b.adler, b.n)
			if i == nBands-1 {
				b.data = binary.BigEndian.AppendUint32(b.data, adler)
			}
			if cw.size == 0 {
				cw.keep(b.data) // the one IDAT's length is known at the end
			} else {
				if err := cw.write(b.data); err != nil {
					return err
				}
				buf := b.data[:0]
				pngChunkPool.Put(&buf)
			}
			b.data = nil
			<-tokens
		}
		return cw.endIDAT()
	}()
	close(quit)
	wg.Wait()
	return werr
}

// pngChunkWriter writes chunks to w, and the zlib stream as a run of
// IDAT chunks of a fixed size or as one IDAT.
type pngChunkWriter struct {
	w    io.Writer
	size int    // IDAT data size, 0 for a single chunk
	buf  []byte // the IDAT chunk being filled: 8 header bytes, then data
	// For a single IDAT: the stream's pieces, written once all are in.
	parts [][]byte
	total int
}

// chunk writes one whole chunk.
func (cw *pngChunkWriter) chunk(typ string, data []byte) error {
	c := make([]byte, 12+len(data))
	copy(c[8:], data)
	pngFinishChunk(c, typ)
	if _, err := cw.w.Write(c); err != nil {
		return fmt.Errorf("png: write %s: %w", typ, err)
	}
	return nil
}

func (cw *pngChunkWriter) startIDAT(size int) {
	cw.size = size
	if cap(cw.buf) < 12+size {
		cw.buf = make([]byte, 8, 12+size)
	}
	cw.buf = cw.buf[:8]
	cw.parts, cw.total = nil, 0
}

// write appends zlib data, writing each IDAT chunk as it fills.
func (cw *pngChunkWriter) write(p []byte) error {
	if cw.size == 0 {
		cw.keep(bytes.Clone(p))
		return nil
	}
	for len(p) > 0 {
		n := copy(cw.buf[len(cw.buf):8+cw.size], p)
		cw.buf, p = cw.buf[:len(cw.buf)+n], p[n:]
		if len(cw.buf) == 8+cw.size {
			if err := cw.flushIDAT(); err != nil {
				return err
			}
		}
	}
	return nil
}

// keep takes p, which the writer now owns, as the next piece of a single
// IDAT.
func (cw *pngChunkWriter) keep(p []byte) {
	cw.parts = append(cw.parts, p)
	cw.total += len(p)
}

// endIDAT writes the last, partly filled IDAT chunk, or the single one.
func (cw *pngChunkWriter) endIDAT() error {
	if cw.size == 0 {
		return cw.writeParts()
	}
	if len(cw.buf) == 8 {
		return nil
	}
	return cw.flushIDAT()
}

// writeParts writes the kept pieces as one IDAT chunk, without joining
// them, and gives the band buffers back.
func (cw *pngChunkWriter) writeParts() error {
	if cw.total > pngMaxDim {
		return &inputError{kind: ErrFormat, msg: "png: image data too large for one chunk"}
	}
	var head [8]byte
	binary.BigEndian.PutUint32(head[:], uint32(cw.total))
	copy(head[4:], "IDAT")
	crc := crc32.ChecksumIEEE(head[4:])
	if _, err := cw.w.Write(head[:]); err != nil {
		return fmt.Errorf("png: write image data: %w", err)
	}
	for i, p := range cw.parts {
		crc = crc32.Update(crc, crc32.IEEETable, p)
		if _, err := cw.w.Write(p); err != nil {
			return fmt.Errorf("png: write image data: %w", err)
		}
		buf := p[:0]
		pngChunkPool.Put(&buf)
		cw.parts[i] = nil
	}
	if _, err := cw.w.Write(binary.BigEndian.AppendUint32(head[:0], crc)); err != nil {
		return fmt.Errorf("png: write image data: %w", err)
	}
	return nil
}

func (cw *pngChunkWriter) flushIDAT() error {
	if len(cw.buf)-8 > pngMaxDim {
		return &inputError{kind: ErrFormat, msg: "png: image data too large for one chunk"}
	}
	cw.buf = append(cw.buf, 0, 0, 0, 0)
	pngFinishChunk(cw.buf, "IDAT")
	if _, err := cw.w.Write(cw.buf); err != nil {
		return fmt.Errorf("png: write image data: %w", err)
	}
	cw.buf = cw.buf[:8]
	return nil
}

// pngFormatOf validates r and maps it to a PNG colour type and bit depth.
func pngFormatOf(r *Image) (colorType, depth int, err error) {
	if r == nil || r.Width <= 0 || r.Height <= 0 || r.Width > pngMaxDim || r.Height > pngMaxDim {
		return 0, 0, &inputError{kind: ErrFormat, msg: "png: cannot encode an image of this size"}
	}
	switch {
	case r.Channels == 1 && !r.Alpha:
		colorType = pngColorGray
	case r.Channels == 1:
		colorType = pngColorGrayAlpha
	case r.Channels == 3 && !r.Alpha:
		colorType = pngColorRGB
	case r.Channels == 3:
		colorType = pngColorRGBA
	default:
		return 0, 0, &inputError{kind: ErrFormat, msg: fmt.Sprintf("png: %d colour channels", r.Channels)}
	}
	if len(r.Pix) != r.Height*r.rowStride() {
		return 0, 0, fmt.Errorf("png: image holds %d bytes, want %d", len(r.Pix), r.Height*r.rowStride())
	}
	depth = 8
	if r.Depth16 {
		depth = 16
	}
	return colorType, depth, nil
}

// pngFinishChunk fills in a chunk laid out as 4 length bytes, 4 type
// bytes, the data, then 4 bytes of room for the CRC.
func pngFinishChunk(c []byte, typ string) {
	n := len(c) - 12
	binary.BigEndian.PutUint32(c, uint32(n))
	copy(c[4:8], typ)
	binary.BigEndian.PutUint32(c[8+n:], crc32.ChecksumIEEE(c[4:8+n]))
}

// encode filters and deflates rows [y0, y1) and returns the deflate
// data (the last band's lacks the zlib checksum).
func (e *pngBandEncoder) encode(r *Image, layout *Layout, y0, y1 int, last, lzOK bool) (data []byte, adler uint32, n int, err error) {
	bpp, rs := r.pixelStride(), r.rowStride()
	frow := rs + 1
	n = (y1 - y0) * frow
	if cap(e.filtered) < n {
		e.filtered = make([]byte, n)
	}
	f := e.filtered[:n]
	lz := lzOK && pngLooksSynthetic(r, y0, y1)
	for y := y0; y < y1; y++ {
		dst := f[(y-y0)*frow : (y-y0+1)*frow]
		cur := r.Pix[y*rs : (y+1)*rs]
		var prev []byte
		if y > 0 {
			prev = r.Pix[(y-1)*rs : y*rs]
		} else {
			if len(e.zero) < rs {
				e.zero = make([]byte, rs)
			}
			prev = e.zero[:rs]
		}
		if layout.adaptive() {
			// The choice leaves the Paeth residuals in place, the
			// filter photos get most.
			if ft := pngChooseFilter(dst[1:], cur, prev, bpp); ft == pngFilterPaeth {
				dst[0] = ft
			} else {
				pngFilterRow(dst, cur, prev, bpp, ft)
			}
		} else {
			pngFilterRow(dst, cur, prev, bpp, layout.Filters[y])
		}
	}
	adler = pngAdler32(1, f)

	zw, err := e.writer(lz)
	if err != nil {
		return nil, 0, 0, err
	}
	// The output buffer is handed over with the band: the writer owns it
	// until it is written, while this encoder moves on to another band.
	e.out.b = (*pngChunkPool.Get().(*[]byte))[:0]
	if want := n + n/8 + 1024; !lz && cap(e.out.b) < want {
		// Room for the band's Huffman-only output (a photo's is about
		// 0.7 of its filtered bytes, never much over 1), so it is not
		// grown by doubling: that garbage was most of a first encode's
		// allocation. Pooled, the buffer then serves band after band.
		e.out.b = make([]byte, 0, want)
	}
	zw.Reset(&e.out)
	if _, err := zw.Write(f); err != nil {
		return nil, 0, 0, fmt.Errorf("png: deflate: %w", err)
	}
	if last {
		err = zw.Close()
	} else {
		err = zw.Flush()
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("png: deflate: %w", err)
	}
	data, e.out.b = e.out.b, nil
	return data, adler, n, nil
}

// writer returns the deflater for the chosen coder, creating it on first use.
func (e *pngBandEncoder) writer(lz bool) (*flate.Writer, error) {
	var err error
	if lz {
		if e.lz == nil {
			e.lz, err = flate.NewWriter(io.Discard, pngLZLevel)
		}
		return e.lz, err
	}
	if e.huff == nil {
		e.huff, err = flate.NewWriter(io.Discard, flate.HuffmanOnly)
	}
	return e.huff, err
}

// pngLooksSynthetic reports whether rows [y0, y1) look synthetic rather
// than photographic, judged from every fourth row: see pngLZMinRepeat.
func pngLooksSynthetic(r *Image, y0, y1 int) bool {
	bpp, rs := r.pixelStride(), r.rowStride()
	if rs <= bpp {
		return false // one pixel per row: nothing to the left
	}
	repeats, total := 0, 0
	for y := max(y0, 1); y < y1; y += 4 {
		row := r.Pix[y*rs : (y+1)*rs]
		repeats += pngCountRepeats(row[bpp:], row, r.Pix[(y-1)*rs+bpp:y*rs])
		total += rs - bpp
	}
	if total == 0 { // a band holding only row 0
		row := r.Pix[:rs]
		repeats += pngCountRepeats(row[bpp:], row, row)
		total += rs - bpp
	}
	return float64(repeats) > pngLZMinRepeat*float64(total)
}

// pngCountRepeats counts the i where cur[i] equals left[i] or up[i],
// eight bytes at a time: a byte of x^y is zero exactly when the exact
// zero-byte test (Hacker's Delight 6-2) sets its top bit.
func pngCountRepeats(cur, left, up []byte) int {
	left, up = left[:len(cur)], up[:len(cur)]
	const hi, lo = 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	zero := func(t uint64) uint64 { return ^((t&lo + lo) | t | lo) }
	n, i := 0, 0
	for ; i+8 <= len(cur); i += 8 {
		c := binary.LittleEndian.Uint64(cur[i:])
		m := zero(c^binary.LittleEndian.Uint64(left[i:])) | zero(c^binary.LittleEndian.Uint64(up[i:]))
		n += bits.OnesCount64(m & hi)
	}
	for ; i < len(cur); i++ {
		if cur[i] == left[i] || cur[i] == up[i] {
			n++
		}
	}
	return n
}

// pngFilterSubRow writes the filter byte and Sub residuals of cur to dst.
func pngFilterSubRow(dst, cur []byte, bpp int) {
	dst[0] = pngFilterSub
	d := dst[1 : len(cur)+1]
	copy(d[:min(bpp, len(cur))], cur)
	if len(cur) <= bpp {
		return
	}
	pngSubBytes(d[bpp:], cur[bpp:], cur)
}

// pngFilterPaethRow writes the filter byte and Paeth residuals of cur
// (with prev the row above) to dst.
func pngFilterPaethRow(dst, cur, prev []byte, bpp int) {
	dst[0] = pngFilterPaeth
	n := len(cur)
	d := dst[1 : n+1]
	prev = prev[:n]
	k := min(bpp, n)
	for i := 0; i < k; i++ {
		d[i] = cur[i] - prev[i] // a = c = 0, so the predictor is b
	}
	if n <= bpp {
		return
	}
	x := cur[bpp:]
	a := cur[:len(x)]
	b := prev[bpp:][:len(x)]
	c := prev[:len(x)]
	pngPaethResiduals(d[bpp:], x, a, b, c)
}

// pngFilterAvgRow writes the filter byte and Avg residuals of cur (with
// prev the row above) to dst. The residual does not depend on earlier
// residuals, so it is computed eight bytes at a time in a uint64: floor
// average without carries between bytes, then bytewise subtraction
// (Hacker's Delight 2-18).
func pngFilterAvgRow(dst, cur, prev []byte, bpp int) {
	dst[0] = pngFilterAvg
	n := len(cur)
	d := dst[1 : n+1]
	prev = prev[:n]
	k := min(bpp, n)
	for i := 0; i < k; i++ {
		d[i] = cur[i] - prev[i]>>1 // a = 0
	}
	if n <= bpp {
		return
	}
	x := cur[bpp:]
	a := cur[:len(x)]
	b := prev[bpp:][:len(x)]
	d = d[bpp:][:len(x)]
	const hi, lo = 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	i := 0
	for ; i+8 <= len(x); i += 8 {
		xv := binary.LittleEndian.Uint64(x[i:])
		av := binary.LittleEndian.Uint64(a[i:])
		bv := binary.LittleEndian.Uint64(b[i:])
		p := av&bv + (av^bv)>>1&lo
		binary.LittleEndian.PutUint64(d[i:], (xv|hi)-(p&lo)^(xv^^p)&hi)
	}
	for ; i < len(x); i++ {
		d[i] = x[i] - uint8((int(a[i])+int(b[i]))>>1)
	}
}

// pngPaeth is the PNG Paeth predictor written so that the compiler emits
// conditional moves (the choice is data-dependent and mispredicts badly)
// and inlines it.
func pngPaeth(a, b, c uint8) uint8 {
	pa := int(b) - int(c) // p - a, with p = a + b - c
	pb := int(a) - int(c) // p - b
	pc := pa + pb         // p - c
	pa = (pa ^ pa>>signShift) - pa>>signShift
	pb = (pb ^ pb>>signShift) - pb>>signShift
	pc = (pc ^ pc>>signShift) - pc>>signShift
	p := c
	if pb <= pc {
		p = b
	}
	if pa <= min(pb, pc) {
		p = a
	}
	return p
}

// pngAdler32Combine returns the adler32 of the concatenation of two
// buffers given their checksums and the length of the second (zlib's
// adler32_combine).
func pngAdler32Combine(a1, a2 uint32, len2 int) uint32 {
	const mod = 65521
	rem := uint64(len2 % mod)
	s1 := uint64(a1 & 0xffff)
	s2 := rem * s1 % mod
	s1 += uint64(a2&0xffff) + mod - 1
	s2 += uint64(a1>>16) + uint64(a2>>16) + mod - rem
	s1 %= mod
	s2 %= mod
	return uint32(s2<<16 | s1)
}

// pngFilterRow writes filter byte ft and the residuals of cur under that
// filter (with prev the row above, zeros for row 0) to dst.
func pngFilterRow(dst, cur, prev []byte, bpp int, ft byte) {
	switch ft {
	case pngFilterNone:
		dst[0] = pngFilterNone
		copy(dst[1:], cur)
	case pngFilterSub:
		pngFilterSubRow(dst, cur, bpp)
	case pngFilterUp:
		dst[0] = pngFilterUp
		pngSubBytes(dst[1:len(cur)+1], cur, prev)
	case pngFilterAvg:
		pngFilterAvgRow(dst, cur, prev, bpp)
	default:
		pngFilterPaethRow(dst, cur, prev, bpp)
	}
}

// pngSubBytes sets d[i] = x[i] - y[i], eight bytes at a time.
func pngSubBytes(d, x, y []byte) {
	y, d = y[:len(x)], d[:len(x)]
	i := 0
	for ; i+8 <= len(x); i += 8 {
		binary.LittleEndian.PutUint64(d[i:], pngSub8(binary.LittleEndian.Uint64(x[i:]), binary.LittleEndian.Uint64(y[i:])))
	}
	for ; i < len(x); i++ {
		d[i] = x[i] - y[i]
	}
}

// pngSub8 subtracts the bytes of y from those of x without borrows
// between bytes (Hacker's Delight 2-18).
func pngSub8(x, y uint64) uint64 {
	const hi, lo = 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	return (x | hi) - (y & lo) ^ (x^^y)&hi
}

// pngAbs8 is a residual's cost in libpng's heuristic: the byte read as
// signed, made positive (min(v, 256-v)).
func pngAbs8(v uint8) uint {
	t := int(int8(v))
	m := t >> signShift
	return uint((t ^ m) - m)
}

// pngChooseFilter returns the filter libpng 1.6's png_write_find_filter
// picks for cur (prev is the row above, zeros for row 0), leaving cur's
// Paeth residuals in paeth (len(cur) bytes), when every
// filter is allowed: the one whose residuals, read as signed bytes, have
// the smallest sum of absolute values, trying None, Sub, Up, Avg, Paeth
// in that order and switching only on a strictly smaller sum. (libpng
// stops summing a filter once it exceeds the best so far, which never
// changes the choice.) All five sums come from one pass over the row,
// eight bytes at a time, Paeth's predictor in 16-bit lanes.
func pngChooseFilter(paeth, cur, prev []byte, bpp int) byte {
	n := len(cur)
	prev, paeth = prev[:n], paeth[:n]
	var sn, ss, su, sa, sp uint
	k := min(bpp, n)
	for i := 0; i < k; i++ { // a = c = 0
		x, b := cur[i], prev[i]
		sn += pngAbs8(x)
		ss += pngAbs8(x)
		su += pngAbs8(x - b)
		sa += pngAbs8(x - b>>1)
		sp += pngAbs8(x - b)
		paeth[i] = x - b
	}
	if n > bpp {
		x := cur[bpp:]
		a := cur[:len(x)]
		b := prev[bpp:][:len(x)]
		c := prev[:len(x)]
		const hi, lo = 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
		d := paeth[bpp:][:len(x)]
		i := 0
		for i+8 <= len(x) {
			// 16-bit lanes hold at most 2*128 per word: flush every 128 words.
			var an, as, au, aa, ap uint64
			for end := min(len(x)&^7, i+8*128); i < end; i += 8 {
				xv := binary.LittleEndian.Uint64(x[i:])
				av := binary.LittleEndian.Uint64(a[i:])
				bv := binary.LittleEndian.Uint64(b[i:])
				cv := binary.LittleEndian.Uint64(c[i:])
				avg := av&bv + (av^bv)>>1&lo
				an += pngAbsLanes(xv)
				as += pngAbsLanes(pngSub8(xv, av))
				au += pngAbsLanes(pngSub8(xv, bv))
				aa += pngAbsLanes(pngSub8(xv, avg))
				pe := pngPaethLanes(av&pngLaneLow, bv&pngLaneLow, cv&pngLaneLow)
				po := pngPaethLanes(av>>8&pngLaneLow, bv>>8&pngLaneLow, cv>>8&pngLaneLow)
				r := pngSub8(xv, pe|po<<8)
				binary.LittleEndian.PutUint64(d[i:], r)
				ap += pngAbsLanes(r)
			}
			sn += pngFoldLanes(an)
			ss += pngFoldLanes(as)
			su += pngFoldLanes(au)
			sa += pngFoldLanes(aa)
			sp += pngFoldLanes(ap)
		}
		for ; i < len(x); i++ {
			sn += pngAbs8(x[i])
			ss += pngAbs8(x[i] - a[i])
			su += pngAbs8(x[i] - b[i])
			sa += pngAbs8(x[i] - uint8((uint(a[i])+uint(b[i]))>>1))
			d[i] = x[i] - pngPaeth(a[i], b[i], c[i])
			sp += pngAbs8(d[i])
		}
	}
	best, ft := sn, byte(pngFilterNone)
	if ss < best {
		best, ft = ss, pngFilterSub
	}
	if su < best {
		best, ft = su, pngFilterUp
	}
	if sa < best {
		best, ft = sa, pngFilterAvg
	}
	if sp < best {
		ft = pngFilterPaeth
	}
	return ft
}

// pngAbsLanes takes the eight bytes of v as signed, makes them positive
// (0..128) and returns them summed pairwise into four 16-bit lanes. For
// a negative byte, |v| = (v ^ 0xff) + 1: the +1s are added as one count.
func pngAbsLanes(v uint64) uint64 {
	const hi, lanes = 0x8080808080808080, 0x00ff00ff00ff00ff
	s := v & hi >> 7
	w := v ^ s*0xff
	return w&lanes + w>>8&lanes + (s+s>>8)&lanes
}

// pngFoldLanes adds up four 16-bit lanes.
func pngFoldLanes(v uint64) uint {
	return uint(v&0xffff + v>>16&0xffff + v>>32&0xffff + v>>48)
}

// SWAR Paeth: four bytes at a time in the 16-bit lanes of a uint64, each
// lane holding 0..255 (even bytes in one word, odd bytes in another).
const (
	pngLane1    = 0x0001000100010001
	pngLaneLow  = 0x00ff00ff00ff00ff
	pngLaneTop  = 0x8000800080008000
	pngLane100  = 0x0100010001000100
	pngLane200  = 0x0200020002000200
	pngLaneMask = 0xffff
)

// pngPaethLanes returns the Paeth predictor of each lane, choosing as
// pngPaeth does.
func pngPaethLanes(a, b, c uint64) uint64 {
	// |b-c|: t = b + 256 - c is 1..511, below 256 exactly when b < c.
	t := b + pngLane100 - c
	n := ^t >> 8 & pngLane1
	pa := t ^ (pngLane100 ^ n*0x1ff) + n
	t = a + pngLane100 - c
	n = ^t >> 8 & pngLane1
	pb := t ^ (pngLane100 ^ n*0x1ff) + n
	// |a+b-2c|: t = a + b + 512 - 2c is 2..1022, below 512 when negative.
	t = a + b + pngLane200 - c<<1
	n = ^t >> 9 & pngLane1
	pc := t ^ (pngLane200 ^ n*0x3ff) + n
	// Lanes where pb > pc take c (and pc): pc - pb borrows there.
	m := ^((pc | pngLaneTop) - pb) >> 15 & pngLane1 * pngLaneMask
	b = b&^m | c&m
	pb = pb&^m | pc&m
	m = ^((pb | pngLaneTop) - pa) >> 15 & pngLane1 * pngLaneMask
	return a&^m | b&m
}

// pngPaethResiduals sets d[i] = x[i] - Paeth(a[i], b[i], c[i]), eight
// bytes at a time.
func pngPaethResiduals(d, x, a, b, c []byte) {
	d, a, b, c = d[:len(x)], a[:len(x)], b[:len(x)], c[:len(x)]
	i := 0
	for ; i+8 <= len(x); i += 8 {
		xv := binary.LittleEndian.Uint64(x[i:])
		av := binary.LittleEndian.Uint64(a[i:])
		bv := binary.LittleEndian.Uint64(b[i:])
		cv := binary.LittleEndian.Uint64(c[i:])
		pe := pngPaethLanes(av&pngLaneLow, bv&pngLaneLow, cv&pngLaneLow)
		po := pngPaethLanes(av>>8&pngLaneLow, bv>>8&pngLaneLow, cv>>8&pngLaneLow)
		binary.LittleEndian.PutUint64(d[i:], pngSub8(xv, pe|po<<8))
	}
	for ; i < len(x); i++ {
		d[i] = x[i] - pngPaeth(a[i], b[i], c[i])
	}
}
