package png

// A PNG's pixels are not all that identifies the program that wrote it:
// the chunk sequence, the IDAT chunk size, the zlib header and the mix of
// row filters are each an encoder's signature. Decode records them in a
// Layout so that Encode can write a stego image with its cover's
// structure; an image with no layout of its own (a JPEG cover, say) gets
// libpng's, the structure most PNGs have.

// Layout is the structure of a PNG file apart from its pixel data.
type Layout struct {
	// Width, Height, ColorType and Depth are the IHDR's: a layout applies
	// only to an image of the same shape.
	Width, Height, ColorType, Depth int
	// Chunks are the chunks between IHDR and IEND that Encode writes, in
	// file order; the run of IDAT chunks is one entry of type "IDAT" and
	// no data. Chunks Decode dropped (see pngKeepChunk) are not listed.
	Chunks []Chunk
	// IDATSize is the size of every IDAT chunk but the last, or 0 if the
	// image data is all in one chunk.
	IDATSize int
	// ZlibHeader is the zlib stream's CMF and FLG bytes.
	ZlibHeader [2]byte
	// Filters holds each row's filter type, or is nil for libpng's
	// adaptive choice.
	Filters []byte
}

// Chunk is an ancillary chunk kept from a cover, or the IDAT run's place.
type Chunk struct {
	Type string
	Data []byte
}

// pngMaxKeptChunkBytes bounds the ancillary data a Layout keeps: a cover
// with more (say a huge iCCP or text chunk) loses the chunks past it
// rather than making every copy of the image that much larger.
const pngMaxKeptChunkBytes = 4 << 20

// libpng's defaults (pngwrite.c, pngwutil.c of libpng 1.6): IDAT chunks
// of PNG_ZBUF_SIZE bytes, zlib at Z_DEFAULT_COMPRESSION (FLEVEL 2, so
// 78 9C for a 32 KiB window), every filter tried on 8-bit and deeper
// images.
const (
	libpngIDATSize = 8192
	libpngLevel6   = 2 // FLEVEL of zlib's level 6
)

// pngKeepChunk reports whether an ancillary chunk of a cover belongs in
// the stego image. The PNG rule is the safe-to-copy bit (bit 5 of the
// fourth type byte): a chunk without it depends on the image data, and an
// editor that changed the pixels must drop it unless it knows the chunk.
// We know these: the colour-space chunks (gAMA, cHRM, sRGB, iCCP, cICP,
// mDCv, cLLi) say how to interpret sample values, which a change of ±1
// does not make wrong; bKGD names a background colour; tIME is kept as
// it was, since the stego image should look like the cover and not like
// a file edited today. Dropped although known: sBIT (the cover's samples
// had only that many significant bits; ours may not), hIST and tRNS
// (palette- and key-specific, and tRNS is outside the fast decoder's
// subset anyway), dSIG (a signature over data that changed) and the APNG
// animation chunks, whose frames we do not carry.
func pngKeepChunk(typ string) bool {
	switch typ {
	case "gAMA", "cHRM", "sRGB", "iCCP", "cICP", "mDCv", "cLLi", "bKGD", "tIME":
		return true
	case "sBIT", "hIST", "tRNS", "dSIG", "acTL", "fcTL", "fdAT":
		return false
	}
	return len(typ) == 4 && typ[0]&0x20 != 0 && typ[3]&0x20 != 0 // ancillary, safe to copy
}

// libpngLayout is the layout libpng 1.6 gives an image of this shape
// written with its defaults: IHDR, IDAT chunks of 8192 bytes, IEND, and
// a zlib window sized down for small images as png_deflate_claim does.
func libpngLayout(r *Image, colorType, depth int) *Layout {
	l := &Layout{Width: r.Width, Height: r.Height, ColorType: colorType, Depth: depth,
		Chunks: []Chunk{{Type: "IDAT"}}, IDATSize: libpngIDATSize}
	size := int64(r.Height) * int64(r.rowStride()+1)
	wbits := uint(15)
	if size <= 16384 {
		half := int64(1) << (wbits - 1)
		for size+262 <= half {
			half >>= 1
			wbits--
		}
	}
	l.ZlibHeader = pngZlibHeaderFor(wbits, libpngLevel6)
	return l
}

// pngZlibHeaderFor returns the zlib header for a window of 2^wbits bytes
// and the given FLEVEL, with FCHECK making it a multiple of 31.
func pngZlibHeaderFor(wbits uint, flevel byte) [2]byte {
	cmf := byte(wbits-8)<<4 | 8
	flg := flevel << 6
	if rem := (uint(cmf)<<8 | uint(flg)) % 31; rem != 0 {
		flg += byte(31 - rem)
	}
	return [2]byte{cmf, flg}
}

// layoutFor returns the layout Encode writes r with: r's own if it has
// one of r's shape, else libpng's.
func layoutFor(r *Image, colorType, depth int) *Layout {
	if l := r.Layout; l != nil && l.Width == r.Width && l.Height == r.Height &&
		l.ColorType == colorType && l.Depth == depth && (l.Filters == nil || len(l.Filters) == r.Height) {
		return l
	}
	return libpngLayout(r, colorType, depth)
}

// Adaptive reports whether rows are filtered by libpng's adaptive choice
// rather than with recorded filter types.
func (l *Layout) adaptive() bool { return l.Filters == nil }

// window is the LZ window the zlib header allows, in bytes.
func (l *Layout) window() int { return 1 << (l.ZlibHeader[0]>>4 + 8) }

// LibpngFilters returns the filter type libpng 1.6's adaptive choice
// gives each row of m (see pngChooseFilter).
func LibpngFilters(m *Image) []byte {
	rs, bpp := m.rowStride(), m.pixelStride()
	prev, scratch := make([]byte, rs), make([]byte, rs)
	f := make([]byte, m.Height)
	for y := range f {
		cur := m.Pix[y*rs : (y+1)*rs]
		f[y] = pngChooseFilter(scratch, cur, prev, bpp)
		prev = cur
	}
	return f
}
