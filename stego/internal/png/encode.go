package png

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"
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
// matches cost more than the literals they replace). The Avg filter
// predicts photos as well as image/png's per-row adaptive choice (output
// within ±2% of it) and, unlike Paeth, runs eight bytes at a time.
//
// Synthetic content (screenshots, flat areas, gradients, upscaled images)
// is the opposite: LZ wins by 10x or more there, and Avg residuals defeat
// it while Paeth residuals do not. The two kinds differ starkly in how
// often a byte equals its left or upper neighbour (about 11% in the
// photo, noised or not; over 90% in synthetic images), so each band
// measures that on a sample of rows and picks Avg+Huffman or Paeth+LZ.
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

// pngZlibHeader is CMF/FLG for deflate with a 32 KiB window and the
// "fastest" level hint; 0x7801 is a multiple of 31 as zlib requires.
const pngZlibHeader = "\x78\x01"

// pngBandEncoderPool recycles per-worker state across encodes: the
// deflaters alone are several hundred KiB each and costly to set up.
var pngBandEncoderPool = sync.Pool{New: func() any { return new(pngBandEncoder) }}

// pngChunkPool recycles the buffers bands are compressed into.
var pngChunkPool = sync.Pool{New: func() any { return new([]byte) }}

// pngBandEncoder is one worker's reusable state.
type pngBandEncoder struct {
	filtered []byte
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
	chunk []byte // 8 bytes reserved for the chunk length and type, then zlib data
	adler uint32 // adler32 of this band's filtered bytes
	n     int    // number of filtered bytes
	err   error
	done  chan struct{}
}

// Encode writes r as a non-interlaced PNG of the matching colour type
// and bit depth. The rows are cut into horizontal bands that are filtered
// and deflated in parallel, each with its own choice of filter and coder;
// every band but the last ends with a sync flush so it stops on a byte
// boundary, which makes the concatenation of the bands' outputs a single
// valid deflate stream. Each band becomes one IDAT chunk. The zlib
// checksum is combined from the bands' adler32s.
func Encode(w io.Writer, r *Image) error {
	colorType, depth, err := pngFormatOf(r)
	if err != nil {
		return err
	}
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

	bands := make([]pngBand, nBands)
	for i := range bands {
		bands[i].done = make(chan struct{})
	}
	bandRows := func(i int) (int, int) {
		return i * rowsPerBand, min(r.Height, (i+1)*rowsPerBand)
	}
	workers := min(runtime.GOMAXPROCS(0), nBands)

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
				b.chunk, b.adler, b.n, b.err = enc.encode(r, y0, y1, i == 0, i == nBands-1)
				close(b.done)
			}
		}()
	}

	werr := func() error {
		adler := uint32(1)
		for i := range bands {
			b := &bands[i]
			<-b.done
			if b.err != nil {
				return b.err
			}
			adler = pngAdler32Combine(adler, b.adler, b.n)
			if i == nBands-1 {
				b.chunk = binary.BigEndian.AppendUint32(b.chunk, adler)
			}
			b.chunk = append(b.chunk, 0, 0, 0, 0)
			if len(b.chunk)-12 > pngMaxDim {
				return &inputError{kind: ErrFormat, msg: "png: a row band compressed to more than a chunk can hold"}
			}
			pngFinishChunk(b.chunk, "IDAT")
			if _, err := w.Write(b.chunk); err != nil {
				return fmt.Errorf("png: write image data: %w", err)
			}
			buf := b.chunk[:0]
			pngChunkPool.Put(&buf)
			b.chunk = nil
			<-tokens
		}
		return nil
	}()
	close(quit)
	wg.Wait()
	if werr != nil {
		return werr
	}
	var iend [12]byte
	pngFinishChunk(iend[:], "IEND")
	if _, err := w.Write(iend[:]); err != nil {
		return fmt.Errorf("png: write trailer: %w", err)
	}
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

// encode filters and deflates rows [y0, y1) and returns them as an IDAT
// chunk whose length, type and CRC are still to be filled in (the last
// band's chunk also lacks the zlib checksum).
func (e *pngBandEncoder) encode(r *Image, y0, y1 int, first, last bool) (chunk []byte, adler uint32, n int, err error) {
	bpp, rs := r.pixelStride(), r.rowStride()
	frow := rs + 1
	n = (y1 - y0) * frow
	if cap(e.filtered) < n {
		e.filtered = make([]byte, n)
	}
	f := e.filtered[:n]
	synthetic := pngLooksSynthetic(r, y0, y1)
	for y := y0; y < y1; y++ {
		dst := f[(y-y0)*frow : (y-y0+1)*frow]
		cur := r.Pix[y*rs : (y+1)*rs]
		switch {
		case y == 0:
			// No row above: Paeth would reduce to Sub anyway.
			pngFilterSubRow(dst, cur, bpp)
		case synthetic:
			pngFilterPaethRow(dst, cur, r.Pix[(y-1)*rs:y*rs], bpp)
		default:
			pngFilterAvgRow(dst, cur, r.Pix[(y-1)*rs:y*rs], bpp)
		}
	}
	adler = adler32.Checksum(f)

	zw, err := e.writer(synthetic)
	if err != nil {
		return nil, 0, 0, err
	}
	// The output buffer is handed over with the band: the writer owns it
	// until it is written, while this encoder moves on to another band.
	e.out.b = (*pngChunkPool.Get().(*[]byte))[:0]
	e.out.b = append(e.out.b, make([]byte, 8)...)
	if first {
		e.out.b = append(e.out.b, pngZlibHeader...)
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
	chunk, e.out.b = e.out.b, nil
	return chunk, adler, n, nil
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
	x := cur[bpp:]
	a := cur[:len(x)]
	d = d[bpp:][:len(x)]
	for i := range x {
		d[i] = x[i] - a[i]
	}
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
	d = d[bpp:][:len(x)]
	for i := range x {
		d[i] = x[i] - pngPaeth(a[i], b[i], c[i])
	}
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
// conditional moves: the choice is data-dependent and mispredicts badly.
func pngPaeth(a, b, c uint8) uint8 {
	pa := int(b) - int(c) // |p - a| before abs, with p = a + b - c
	pb := int(a) - int(c) // |p - b|
	pc := pa + pb         // |p - c|
	pa = (pa ^ (pa >> 63)) - (pa >> 63)
	pb = (pb ^ (pb >> 63)) - (pb >> 63)
	pc = (pc ^ (pc >> 63)) - (pc >> 63)
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
