package stego

import (
	"encoding/binary"
	"image/color"
	"math"
	"runtime"

	"github.com/stegocluster/stegocluster/stego/internal/png"
)

// Memory costs, for callers that hold a memory budget (the API reserves
// them before it calls Decode, Embed or Encode). Each is an upper bound
// on what the call allocates, from facts known before allocating.

// decodeBytesPerPixel bounds what decoding allocates per pixel for each
// colour model an image's header can declare: the standard decoder's
// image, an intermediate conversion where rasterFromImage makes one,
// and our raster. (Our own PNG decoder needs less: the raster and the
// filtered rows, about twice the raster.)
func decodeBytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel:
		return 1 + 1
	case color.Gray16Model:
		return 2 + 2
	case color.YCbCrModel, color.NYCbCrAModel, color.CMYKModel:
		return 4 + 4 + 4 // decoded planes (at most 4:4:4 + alpha), RGBA, raster
	case color.RGBAModel, color.NRGBAModel:
		return 4 + 4 + 4 // decoded, NRGBA for transparent premultiplied input, raster
	case color.RGBA64Model, color.NRGBA64Model:
		return 8 + 8 + 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1 + 4 // indices, RGB(A) raster
	}
	return 8 + 8 + 8 // an unknown model: the 16-bit worst case
}

// decodeOverhead covers what decoding allocates besides pixels (tables,
// a row of filter state, the decoder's own structures).
const decodeOverhead = 256 << 10

// DecodeCost is an upper bound on the bytes Decode(data, maxPixels)
// allocates, read from the image's header alone. It refuses what Decode
// would refuse before allocating pixels: data that is no image we read
// (ErrUnsupportedFormat) and images over maxPixels (ErrCoverTooLarge).
func DecodeCost(data []byte, maxPixels int64) (int64, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := decodeHeader(data, maxPixels)
	if err != nil {
		return 0, err
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	cost := pixels*decodeBytesPerPixel(cfg.ColorModel) + decodeOverhead
	switch format {
	case "png":
		// How the file is cut into chunks costs memory of its own,
		// whatever the image's size.
		cost += png.StreamCost(data)
		// image/png's header reports a gray (or RGB) model, but a
		// transparency key makes it decode to NRGBA, 16-bit to NRGBA64
		// (the raster then has an alpha channel too); interlacing adds
		// one more image, the passes'.
		if png.DecodesWide(data) {
			wide := decodeBytesPerPixel(color.NRGBAModel)
			if cfg.ColorModel == color.Gray16Model || cfg.ColorModel == color.RGBA64Model || cfg.ColorModel == color.NRGBA64Model {
				wide = decodeBytesPerPixel(color.NRGBA64Model)
			}
			cost += pixels * wide
		}
	case "tiff":
		// golang.org/x/image/tiff inflates a strip or tile whole, up to
		// 8 bytes a pixel whatever the samples need, into a buffer that
		// doubles as it grows; one strip may be the whole image.
		cost += 16 * pixels
	case "jpeg":
		// A progressive JPEG keeps every coefficient until its last
		// scan: 4 bytes a sample of each component (counted at full
		// resolution, padded to whole 16×16 blocks).
		if components := progressiveJPEG(data); components > 0 {
			padded := int64(cfg.Width+15) * int64(cfg.Height+15)
			cost += 4 * int64(components) * padded
		}
	}
	return cost, nil
}

// progressiveJPEG returns the number of components of a JPEG whose frame
// header, before its first scan, is progressive (SOF2; image/jpeg
// decodes no other progressive kind), and 0 for any other.
func progressiveJPEG(data []byte) int {
	for off := 2; off+4 <= len(data); {
		if data[off] != 0xff {
			return 0
		}
		marker := data[off+1]
		switch {
		case marker == 0xff: // fill byte
			off++
			continue
		case marker == 0xc2:
			if off+10 > len(data) {
				return 4 // cut short: the most image/jpeg accepts
			}
			return int(data[off+9])
		case marker == 0xda, marker == 0xd9: // start of scan, end of image
			return 0
		case marker >= 0xd0 && marker <= 0xd7, marker == 0x01:
			off += 2
			continue
		}
		off += 2 + int(binary.BigEndian.Uint16(data[off+2:]))
	}
	return 0
}

// Bytes is the memory the image's samples take: what Clone (and so
// Embed, which works on a copy) allocates.
func (m *Image) Bytes() int64 { return int64(len(m.r.pix)) }

// EncodedSize bounds the size of m's encoding, so a caller can size its
// output buffer once: DEFLATE falls back to stored blocks for data it
// cannot compress, and the Huffman code it tries first expands at most
// an eighth; plus a filter byte per row and the chunks' framing.
func (m *Image) EncodedSize() int64 {
	return m.Bytes()*9/8 + int64(m.r.height) + 64<<10
}

// encoderBytesPerWorker bounds what each of Encode's goroutines holds:
// a DEFLATE writer (about 1 MB in compress/flate) and its bands of
// filtered and compressed rows in flight.
const encoderBytesPerWorker = 3 << 20

// EncodeCost bounds what Encode allocates besides its output: the PNG
// encoder works in bands, one set per CPU, whatever the image's size.
// A PNG written with its cover's layout also copies the cover's
// ancillary chunks, and if the cover had its image data in one IDAT
// chunk, the whole compressed stream is held until its length is known;
// otherwise one IDAT chunk of the cover's size is.
func (m *Image) EncodeCost() int64 {
	c := int64(runtime.GOMAXPROCS(0))*encoderBytesPerWorker + decodeOverhead
	if l := m.pngLayout; l != nil {
		for _, ch := range l.Chunks {
			c += int64(12 + len(ch.Data))
		}
		if l.IDATSize == 0 {
			c += m.EncodedSize()
		}
		c += int64(l.IDATSize) // the chunk being filled
	}
	return c
}

// ExtractCost bounds what Extract allocates besides the secret itself
// (Options.MaxSecretSize bounds that) and the key derivation, whatever
// the image's header declares: the mode is read from the image, and
// anyone can write an adaptive header for the public key. Adaptive mode
// takes the most: every data sample's place in its pass (4 bytes), the
// body (at most one bit a sample in any mode but depth 4's four: half a
// byte), one segment's LSBs and trellis columns at a time (9 bytes a
// segment sample). A 1920×1080 RGB image needs about 28 MB.
func (m *Image) ExtractCost() int64 {
	n := int64(m.r.dataSamples())
	return 4*n + n/2 + 9*(adaptiveSegment+1) + decodeOverhead
}

// EmbedCost bounds what EmbedInPlace allocates to hide secret under
// opts, besides the key derivation. In adaptive mode that is
// AdaptiveEmbedCost. In keyed and sequential mode it grows with the
// payload: the sealed body (twice: plain and sealed), the gathered LSBs
// (a bit a slot) and the change lists with their sorted copy (at most
// one 8-byte entry a block each). A few kilobytes in a photograph cost
// little; a cover filled at depth 4, with one block a bit, 16 bytes per
// bit hidden (about 2 GB for 17 MB in 4000×3000 pixels). The body is
// counted uncompressed: compression only makes it smaller, and a
// smaller body has fewer, longer blocks. Options it refuses cost
// nothing (EmbedInPlace returns before allocating).
func (m *Image) EmbedCost(secret Secret, opts Options) int64 {
	if opts.Mode == ModeAdaptive {
		return m.AdaptiveEmbedCost()
	}
	d, err := opts.depth()
	if err != nil {
		return 0
	}
	samples := int64(m.r.dataSamples())
	slots := max(0, samples-headerSamples) * int64(d)
	body := int64(len(secret.Data)+len(secret.Name)+len(secret.MIME)) + tagSize + metaFixedSize
	bits := 8 * body
	blocks := min(bits, slots) // k = 1: a block a bit, and no more blocks than slots
	if bits <= int64(math.MaxInt) && slots <= int64(math.MaxInt) {
		if k, ok := chooseK(int(bits), int(slots)); ok {
			blocks = (bits + int64(k) - 1) / int64(k)
		}
	}
	return 2*body + slots/8 + 16*blocks + decodeOverhead
}

// AdaptiveEmbedCost bounds what Embed and EmbedInPlace allocate in
// ModeAdaptive besides the copy Embed makes (Bytes) and the key
// derivation: per data sample its cost (4 bytes), its place in a pass
// (4), the direction it moved (1) and at most half a message bit, one
// byte each (0.5); per pixel two float32 planes for
// the costs' filters (8); per sample of the largest pass its cover and
// stego LSBs, cost and preferred direction (7); and per goroutine the
// trellis back-pointers of one segment (2^h bits × 65,536 samples = 1 MiB
// at h = 7). On 2 CPUs a 960×640 RGB cover needs about 26 MB, a 1920×1280 one
// about 96 MB. A caller that holds a memory budget reserves it before an
// adaptive hide.
func (m *Image) AdaptiveEmbedCost() int64 {
	r := m.r
	n, pixels := int64(r.dataSamples()), int64(r.width)*int64(r.height)
	largestPass := (int64(r.width)/2 + 1) * (int64(r.height)/2 + 1) // a channel's sub-lattice
	paths := int64(runtime.GOMAXPROCS(0)) * adaptiveSegment * int64(stcWords(stcHeight)) * 8
	return 19*n/2 + 8*pixels + 7*largestPass + paths + decodeOverhead
}
