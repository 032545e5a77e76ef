// Copyright 2025 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package stego

// The inverse DCT of image/jpeg (Go 1.25 and later; src/image/jpeg/dct.go),
// copied unchanged but for names so that the JPEG-compatibility test
// (analysis_jpegcompat.go) decodes a candidate block exactly as the
// decoder that made the image did: a floating-point IDCT with rounding
// differs from it by 1 in a few pixels of many blocks, which would look
// like ±1 embedding. Go's BSD licence covers this file; see the Go
// distribution's LICENSE.

// jpegBlock is image/jpeg's block: 8×8 int32 in natural (row-major) order.
type jpegBlock [64]int32

func jpegDCTBox(x0, x1, kcos, ksin int32) (y0, y1 int32) {
	// y0 = x0*kcos + x1*ksin
	// y1 = -x0*ksin + x1*kcos
	ksum := kcos * (x0 + x1)
	y0 = ksum + (ksin-kcos)*x1
	y1 = ksum - (kcos+ksin)*x0
	return y0, y1
}

const (
	jpeg_cos1          = 1130768441178740757 // fix cos 1*pi/16
	jpeg_sin1          = 224923827593068887  // fix sin 1*pi/16
	jpeg_cos3          = 958619196450722178  // fix cos 3*pi/16
	jpeg_sin3          = 640528868967736374  // fix sin 3*pi/16
	jpeg_sqrt2         = 1630477228166597777 // fix sqrt 2
	jpeg_sqrt2_cos6    = 623956622067911264  // fix (sqrt 2)*cos 6*pi/16
	jpeg_sqrt2_sin6    = 1506364539328854985 // fix (sqrt 2)*sin 6*pi/16
	jpeg_sqrt2inv      = 815238614083298888  // fix 1/sqrt 2
	jpeg_sqrt2inv_cos6 = 311978311033955632  // fix (1/sqrt 2)*cos 6*pi/16
	jpeg_sqrt2inv_sin6 = 753182269664427492  // fix (1/sqrt 2)*sin 6*pi/16
)

func jpegFix(x uint64, bits int) int32 {
	return int32((x + (1 << (59 - bits))) >> (60 - bits))
}

func jpegIDCT(b *jpegBlock) {
	// A 2D IDCT is a 1D IDCT on rows followed by columns.
	jpegIDCTRows(b)
	jpegIDCTCols(b)
}

// idctRows applies the 1D IDCT to the rows of b.
// Inputs are UQ8.0; outputs are Q9.20.
func jpegIDCTRows(b *jpegBlock) {
	for i := range 8 {
		x := b[8*i : 8*i+8 : 8*i+8]
		x0 := x[0]
		x7 := x[1]
		x2 := x[2]
		x5 := x[3]
		x1 := x[4]
		x6 := x[5]
		x3 := x[6]
		x4 := x[7]

		// Run FDCT backward.
		// Independent operations have been reordered somewhat
		// to make precision tracking easier.
		//
		// Note that “x0, x1 = x0+x1, x0-x1” is now a reverse butterfly
		// and carries with it an implicit divide by two: the extra bit
		// is added to the precision, not the value size.

		// x[01234567] are UQ8.0 in [0, 255].

		// Stages 4, 3, 2: x0, x1, x2, x3.

		x0 <<= 17
		x1 <<= 17
		// x0, x1 now UQ8.17.
		x0, x1 = x0+x1, x0-x1
		// x0 now UQ8.18 in [0, 255].
		// x1 now Q7.18 in [-127½, 127½].

		// Note: (1/sqrt 2)*((cos 6*pi/16)+(sin 6*pi/16)) < 0.924, so no new high bit.
		x2, x3 = jpegDCTBox(x2, x3, jpegFix(jpeg_sqrt2inv_cos6, 18), -jpegFix(jpeg_sqrt2inv_sin6, 18))
		// x[23] now Q8.18 in [-236, 236].
		x1, x2 = x1+x2, x1-x2
		x0, x3 = x0+x3, x0-x3
		// x[0123] now Q8.19 in [-246, 246].

		// Stages 4, 3, 2: x4, x5, x6, x7.

		x4 <<= 7
		x7 <<= 7
		// x[47] now UQ8.7
		x7, x4 = x7+x4, x7-x4
		// x7 now UQ8.8 in [0, 255].
		// x4 now Q7.8 in [-127½, 127½].

		x6 = x6 * jpegFix(jpeg_sqrt2inv, 8)
		x5 = x5 * jpegFix(jpeg_sqrt2inv, 8)
		// x[56] now UQ8.8 in [0, 181].
		// Note that 1/√2 has five 0s in its binary representation after
		// the 8th bit, so this multipliy is actually producing 12 bits of precision.

		x7, x5 = x7+x5, x7-x5
		x4, x6 = x4+x6, x4-x6
		// x[4567] now Q8.9 in [-218, 218].

		x4, x7 = jpegDCTBox(x4>>2, x7>>2, jpegFix(jpeg_cos3, 12), -jpegFix(jpeg_sin3, 12))
		x5, x6 = jpegDCTBox(x5>>2, x6>>2, jpegFix(jpeg_cos1, 12), -jpegFix(jpeg_sin1, 12))
		// x[4567] now Q9.19 in [-303, 303].

		// Stage 1.

		x0, x7 = x0+x7, x0-x7
		x1, x6 = x1+x6, x1-x6
		x2, x5 = x2+x5, x2-x5
		x3, x4 = x3+x4, x3-x4
		// x[01234567] now Q9.20 in [-275, 275].

		// Note: we don't need all 20 bits of “precision”,
		// but it is faster to let idctCols shift it away as part
		// of other operations rather than downshift here.

		x[0] = x0
		x[1] = x1
		x[2] = x2
		x[3] = x3
		x[4] = x4
		x[5] = x5
		x[6] = x6
		x[7] = x7
	}
}

// idctCols applies the 1D IDCT to the columns of b.
// Inputs are Q9.20.
// Outputs are Q10.3. That is, the result is the IDCT*8.
func jpegIDCTCols(b *jpegBlock) {
	for i := range 8 {
		x0 := b[0*8+i]
		x7 := b[1*8+i]
		x2 := b[2*8+i]
		x5 := b[3*8+i]
		x1 := b[4*8+i]
		x6 := b[5*8+i]
		x3 := b[6*8+i]
		x4 := b[7*8+i]

		// x[012345678] are Q9.20.

		// Start by adding 0.5 to x0 (the incoming DC signal).
		// The butterflies will add it to all the other values,
		// and then the final shifts will round properly.
		x0 += 1 << 19

		// Stages 4, 3, 2: x0, x1, x2, x3.

		x0, x1 = (x0+x1)>>2, (x0-x1)>>2
		// x[01] now Q9.19.
		// Note: (1/sqrt 2)*((cos 6*pi/16)+(sin 6*pi/16)) < 1, so no new high bit.
		x2, x3 = jpegDCTBox(x2>>13, x3>>13, jpegFix(jpeg_sqrt2inv_cos6, 12), -jpegFix(jpeg_sqrt2inv_sin6, 12))
		// x[0123] now Q9.19.

		x1, x2 = x1+x2, x1-x2
		x0, x3 = x0+x3, x0-x3
		// x[0123] now Q9.20.

		// Stages 4, 3, 2: x4, x5, x6, x7.

		x7, x4 = x7+x4, x7-x4
		// x[47] now Q9.21.

		x5 = (x5 >> 13) * jpegFix(jpeg_sqrt2inv, 14)
		x6 = (x6 >> 13) * jpegFix(jpeg_sqrt2inv, 14)
		// x[56] now Q9.21.

		x7, x5 = x7+x5, x7-x5
		x4, x6 = x4+x6, x4-x6
		// x[4567] now Q9.22.

		x4, x7 = jpegDCTBox(x4>>14, x7>>14, jpegFix(jpeg_cos3, 12), -jpegFix(jpeg_sin3, 12))
		x5, x6 = jpegDCTBox(x5>>14, x6>>14, jpegFix(jpeg_cos1, 12), -jpegFix(jpeg_sin1, 12))
		// x[4567] now Q10.20.

		x0, x7 = x0+x7, x0-x7
		x1, x6 = x1+x6, x1-x6
		x2, x5 = x2+x5, x2-x5
		x3, x4 = x3+x4, x3-x4
		// x[01234567] now Q10.21.

		x0 >>= 18
		x1 >>= 18
		x2 >>= 18
		x3 >>= 18
		x4 >>= 18
		x5 >>= 18
		x6 >>= 18
		x7 >>= 18
		// x[01234567] now Q10.3.

		b[0*8+i] = x0
		b[1*8+i] = x1
		b[2*8+i] = x2
		b[3*8+i] = x3
		b[4*8+i] = x4
		b[5*8+i] = x5
		b[6*8+i] = x6
		b[7*8+i] = x7
	}
}
