// Package stego hides a secret file in a lossless image and gets it back.
//
// A secret (bytes plus its file name and MIME type) is optionally
// compressed, sealed with AES-256-GCM under a key derived from a password
// with Argon2id (or from a built-in public key when there is none), and
// spread over the image's colour samples in a keyed pseudo-random order.
// Each sample changes by at most ±1 at depth 1 (LSB matching, not LSB
// replacement), and Hamming matrix coding, chosen from the
// payload-to-capacity ratio, lets a small payload change far fewer samples
// than it has bits. ModeAdaptive instead puts the changes where the
// image is busy: HILL costs, a syndrome-trellis code that embeds near the
// payload–distortion bound, and ±1 directions synchronised across the
// colour channels and neighbours of each pixel; it carries half as much
// and is harder to detect (docs/stealth.md). The image carries no readable marker: a clean image
// and a wrong password give the same ErrNoHiddenData. The container format
// is versioned and specified in docs/format.md.
//
// The package reads PNG (8- and 16-bit, gray, gray+alpha, RGB, RGBA,
// paletted), JPEG, GIF (first frame), BMP, TIFF and WebP, and writes PNG
// or BMP. Alpha is never used for data and is kept bit for bit. Decode
// checks the declared size against a pixel cap before it allocates.
//
// Analyze runs the classic LSB detectors (chi-square, RS, SPA) and the
// JPEG-compatibility test, which exposes any change to a decoded JPEG —
// a JPEG cover's PNG result at any payload — so that users can see what
// a steganalyst would see.
//
// PNG is read and written by the package's own codec (internal/png),
// which decodes 2.4–3.6× and encodes 10–30× faster than image/png on the
// test photograph (BenchmarkDecodePNG, BenchmarkEncodePNG; see
// docs/performance.md); PNGs outside its subset fall back to
// image/png. A stego PNG has its cover's file structure (chunks, IDAT
// size, zlib header, row filters) when the cover is a PNG, and libpng's
// defaults otherwise, so that the file does not name the program that
// wrote it (docs/format.md, "The output PNG").
//
// The package imports nothing else of stegocluster's.
package stego
