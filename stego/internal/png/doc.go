// Package png is stego's own PNG codec: a decoder for the non-interlaced
// 8- and 16-bit gray, gray+alpha, RGB and RGBA files that covers and
// stego images almost always are, and an encoder that writes exactly
// those. Both work on Image, whose samples are laid out as PNG rows are,
// so neither direction converts pixels.
//
// The package exists for speed: the decoder inflates with its own DEFLATE
// decoder (inflate.go) straight into the pixel buffer and unfilters in
// place, on two goroutines or, for files this encoder wrote, on all
// cores; the encoder filters and deflates horizontal bands in parallel.
//
// Decode records the file's structure in Image.Layout (ancillary chunks
// and their order, IDAT chunk size, zlib header, each row's filter type)
// and Encode reproduces it, or writes libpng 1.6's defaults (IDATs of
// 8192 bytes, 78 9C, libpng's adaptive filter choice) for an image
// without one: see layout.go and docs/format.md.
//
// Whatever Decode accepts, image/png accepts with the same samples
// (FuzzDecodePNG checks this); valid files outside the fast subset
// (palette, depths below 8, interlacing, a tRNS colour key) give
// ErrNotFastPath, and the caller decodes them with image/png.
package png
