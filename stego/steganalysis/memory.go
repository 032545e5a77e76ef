package steganalysis

// Working memory of feature extraction, per pixel of the analysed
// region, by what Features allocates:
//
//   - per channel: the int32 plane (4 bytes) and SPAM's clamped
//     differences, one byte per direction (4 bytes);
//   - the SRM extractor, shared by the channels: ten int32 residual
//     buffers (40 bytes), the min/max residuals (8 + 2 bytes), eight
//     quantised planes and one scratch plane (9 bytes);
//   - for colour images, five quantised residual planes per channel kept
//     for the colour co-occurrences (15 bytes).
//
// That is 98 bytes per pixel for RGB and 67 for gray.
// TestWorkingBytesBound checks the bound against the allocator's count.
const (
	extractorBytesPerPixel = 40 + 8 + 2 + 9
	channelBytesPerPixel   = 4 + 4
	colourBytesPerPixel    = 15
	// workingOverhead covers what does not scale with the area: the
	// feature vectors, histograms and tables (about 130 KB measured),
	// and lineBytes per row and column for row scratch (about 190 bytes
	// per row measured), both rounded up generously.
	workingOverhead = 512 << 10
	lineBytes       = 512
)

// WorkingBytes is an upper bound on the bytes Features (and so
// DetectSamples) allocates for a width×height image of channels colour
// channels (1 or 3), not counting the Samples themselves
// (width·height·channels bytes). Detect analyses at most the central
// MaxAnalysedSide² region, so pass the region's size. A caller holding a
// memory budget reserves this before it calls.
func WorkingBytes(width, height, channels int) int64 {
	if width <= 0 || height <= 0 {
		return workingOverhead
	}
	per := int64(extractorBytesPerPixel + channels*channelBytesPerPixel)
	if channels == 3 {
		per += colourBytesPerPixel
	}
	return int64(width)*int64(height)*per + int64(width+height)*lineBytes + workingOverhead
}
