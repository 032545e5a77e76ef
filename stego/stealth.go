package stego

import (
	"fmt"
	"math"
)

// Stealth advice: how detectable a payload of a given size will be in a
// given cover, from what was measured, not from hope.
//
// The figures are our rich-model detector's P_E (the minimum over
// thresholds of the mean of false-alarm and missed-detection rates; 0.5
// is a coin toss), trained per embedder and payload on half of the
// photographs and tested on the other half, per payload in bits per
// channel, from the command and tables in docs/stealth.md. They
// describe a population of photographs, not one image; what makes them
// "per cover" is the cover's size (a payload's bits per channel) and its
// kind (a JPEG cover has no stealthy payload at all). A steganalyst with
// a stronger detector than ours does better, so every figure reads "at
// least this detectable".

// StealthyPE is the detector error at or above which a payload is called
// stealthy: the detector is wrong on at least 40% of decisions.
const StealthyPE = 0.4

// StealthBasis says where the measured figures come from, for answers
// that quote them.
const StealthBasis = "P_E of stegocluster's rich-model detector on held-out photographs (8-bit colour, depth 1), docs/stealth.md; a stronger detector does better"

// pePoint is one measured payload and the detector's P_E at it.
type pePoint struct {
	bpc float64 // payload bits per data sample, container overhead included
	pe  float64
}

// measuredPE is the measured table in docs/stealth.md for a mode at
// depth 1 ("Results" for keyed mode, "Adaptive mode" for adaptive), in
// increasing bpc, or nil when the mode was not measured.
// TestStealthTableMatchesDocs keeps the two the same.
func measuredPE(mode Mode) []pePoint {
	switch mode {
	case ModeKeyed:
		return []pePoint{{0.05, 0.44}, {0.1, 0.37}, {0.2, 0.24}, {0.4, 0.06}}
	case ModeAdaptive:
		return []pePoint{{0.05, 0.46}, {0.1, 0.44}, {0.2, 0.37}, {0.4, 0.24}}
	}
	return nil
}

// Stealth is what a cover and options allow before a modern detector
// notices, and, for a payload, how detectable it will be.
type Stealth struct {
	// StealthyBytes is the most secret data (beside the name and MIME
	// type it was computed for) at which the detector's P_E stays at or
	// above StealthyPE, reading the measured curve linearly between its
	// points. Nil when there is no such payload; NoStealthyReason says
	// why.
	StealthyBytes *int `json:"stealthy_bytes,omitempty"`
	// StealthyBitsPerChannel is the payload StealthyBytes stands for.
	StealthyBitsPerChannel float64 `json:"stealthy_bits_per_channel,omitempty"`
	NoStealthyReason       string  `json:"no_stealthy_reason,omitempty"`
	// JPEGCover: the cover was a JPEG, or its pixels are a decompressed
	// JPEG's. Its result is a lossless image of a decompressed JPEG with
	// ±1 changes, which JPEG-compatibility analysis exposes at almost
	// any payload.
	JPEGCover bool `json:"jpeg_cover,omitempty"`
	// For a payload of known size (a secret sent along, or embedded):
	// BitsPerChannel is its payload, container overhead included;
	// DetectorPE the detector's P_E there, interpolated
	// between the measured payloads (nil when unknown); Rating is
	// "stealthy", "detectable" or "unknown".
	BitsPerChannel float64  `json:"bits_per_channel,omitempty"`
	DetectorPE     *float64 `json:"detector_pe,omitempty"`
	Rating         string   `json:"rating,omitempty"`
	// Advice says the above in a sentence for people.
	Advice string `json:"advice"`
	Basis  string `json:"basis"`
}

// Ratings in Stealth.Rating.
const (
	RatingStealthy   = "stealthy"
	RatingDetectable = "detectable"
	RatingUnknown    = "unknown"
)

// StealthForSecret is StealthFor for secret itself, and whether Embed
// takes it (Fits). A secret that does not fit, even compressed, makes no
// image: it gets the cover's advice and no rating (rated by its size it
// could read "29 bits per channel" at depth 1).
func StealthForSecret(cover *Image, opts Options, secret Secret) (Stealth, bool, error) {
	fits, err := Fits(cover, secret, opts)
	if err != nil {
		return Stealth{}, false, err
	}
	size := -1
	if fits {
		size = len(secret.Data)
	}
	return StealthFor(cover, opts, secret.Name, secret.MIME, size), fits, nil
}

// StealthFor gives the stealth advice for hiding data of dataBytes bytes
// (negative: the size is not known yet) under the given name and MIME
// type in cover with opts, as if stored uncompressed (compression can
// only make it less detectable). It never fails: options Embed would
// refuse give advice with no stealthy figure.
func StealthFor(cover *Image, opts Options, name, mimeType string, dataBytes int) Stealth {
	overhead := payloadOverhead(name, mimeType)
	payload := -1
	if dataBytes >= 0 {
		payload = overhead + dataBytes
	}
	return stealth(cover, opts, overhead, payload)
}

// StealthOf is the advice for an embedding Embed made into cover with
// opts, for a secret of that name and MIME type: for its payload as
// stored, compressed if it was.
func StealthOf(cover *Image, opts Options, name, mimeType string, stats Stats) Stealth {
	return stealth(cover, opts, payloadOverhead(name, mimeType), stats.PayloadBytes)
}

// payloadOverhead is what the container adds to a secret's data: Stats'
// PayloadBytes less the stored data.
func payloadOverhead(name, mimeType string) int {
	return headerSize + metaFixedSize + len(name) + len(mimeType) + tagSize
}

// stealth is the advice for a payload of payloadBytes bytes (negative:
// not known yet) of which overhead is the container's.
func stealth(cover *Image, opts Options, overhead, payloadBytes int) Stealth {
	st := Stealth{Basis: StealthBasis}
	samples := cover.r.dataSamples()

	curve := measuredPE(opts.Mode)
	// known: detectable whatever the payload, for a reason measured or
	// established (JPEG compatibility, the classic detectors).
	known := true
	switch {
	case cover.Public:
		st.NoStealthyReason = "the cover is public (the built-in one): whoever has it sees every changed sample by comparing; hide in a photo of your own"
	case cover.SourceFormat == "jpeg":
		st.JPEGCover = true
		st.NoStealthyReason = "the cover is a JPEG: the result is a PNG of a decompressed JPEG with ±1 changes, which JPEG-compatibility analysis detects at almost any payload; hide in the lossless original instead (the camera's RAW or a PNG/TIFF never saved as JPEG)"
	case cover.SourceFormat == "webp" && cover.lossyWebP:
		st.NoStealthyReason = "the cover is a lossy WebP: like a JPEG, its decompressed pixels carry the codec's block structure, which ±1 changes break; hide in a lossless original instead"
	case opts.Mode == ModeSequential:
		st.NoStealthyReason = "sequential mode replaces low bits in raster order, which the classic detectors (chi-square, RS, SPA) find at any useful payload"
	case curve == nil:
		known = false
		st.NoStealthyReason = fmt.Sprintf("%s mode has not been measured against the detector", opts.Mode)
	case opts.Depth > 1:
		known = false
		st.NoStealthyReason = fmt.Sprintf("depth %d changes samples by up to ±%d, which has not been measured against the detector (only depth 1 has); expect it to be easier to detect", opts.Depth, 1<<opts.Depth-1)
	case cover.r.depth16 || cover.r.channels != 3:
		known = false
		st.NoStealthyReason = "the detector was measured on 8-bit colour photographs only; this cover is not one"
	case decodedJPEG(cover):
		st.JPEGCover = true
		st.NoStealthyReason = "the cover's pixels are a decompressed JPEG (its file was re-saved losslessly): the result carries ±1 changes that JPEG-compatibility analysis detects at almost any payload; hide in the original from before it was a JPEG"
	default:
		stealthy := stealthyBPC(curve)
		if stealthy <= 0 {
			st.NoStealthyReason = fmt.Sprintf("even the smallest measured payload (%.2f bits per channel) has a P_E under %.1f", curve[0].bpc, StealthyPE)
			break
		}
		// The product is a whole number of bytes at the measured points
		// and their crossings; the nudge keeps rounding error from
		// costing a byte.
		n := max(int(math.Floor(stealthy*float64(samples)/8+1e-6))-overhead, 0)
		st.StealthyBytes, st.StealthyBitsPerChannel = &n, stealthy
	}

	if payloadBytes < 0 {
		st.Advice = st.figureAdvice()
		return st
	}
	st.BitsPerChannel = float64(8*payloadBytes) / float64(samples)
	switch {
	case st.StealthyBytes != nil:
		pe := interpolatePE(curve, st.BitsPerChannel)
		st.DetectorPE = &pe
		st.Rating = RatingDetectable
		if payloadBytes-overhead <= *st.StealthyBytes {
			st.Rating = RatingStealthy
		}
	case known:
		st.Rating = RatingDetectable
	default:
		st.Rating = RatingUnknown
	}
	st.Advice = st.payloadAdvice()
	return st
}

// decodedJPEG reports whether a cover whose file is no JPEG has a
// decoded JPEG's pixels, by the analysis's JPEG-compatibility test: it is
// asked last, as it costs about 7 ms of CPU for a colour photo that never
// was a JPEG (docs/stealth.md, "JPEG covers").
func decodedJPEG(cover *Image) bool {
	_, ok := LooksDecompressedJPEG(cover)
	return ok
}

// interpolatePE reads the measured curve at bpc: linearly between the
// measured payloads, from (0, 0.5) below the first (no payload, nothing
// to detect), and the last measured value beyond the last (a payload
// larger than any measured is at least that detectable).
func interpolatePE(curve []pePoint, bpc float64) float64 {
	prev := pePoint{0, 0.5}
	for _, p := range curve {
		if bpc <= p.bpc {
			t := (bpc - prev.bpc) / (p.bpc - prev.bpc)
			return prev.pe + t*(p.pe-prev.pe)
		}
		prev = p
	}
	return prev.pe
}

// stealthyBPC is where the measured curve, read as interpolatePE reads
// it, falls below StealthyPE; the last measured payload when it never
// does (nothing is claimed beyond what was measured), 0 when it starts
// below.
func stealthyBPC(curve []pePoint) float64 {
	prev := pePoint{0, 0.5}
	for _, p := range curve {
		if p.pe < StealthyPE {
			return prev.bpc + (prev.pe-StealthyPE)/(prev.pe-p.pe)*(p.bpc-prev.bpc)
		}
		prev = p
	}
	return prev.bpc
}

func (st Stealth) figureAdvice() string {
	if st.StealthyBytes == nil {
		return "No stealthy payload: " + st.NoStealthyReason + "."
	}
	return fmt.Sprintf("Stealthy up to %d bytes (%.3f bits per channel): there our detector errs on at least %.0f%% of images (50%% is a coin toss). Beyond it, the bigger the secret, the more detectable.", *st.StealthyBytes, st.StealthyBitsPerChannel, 100*StealthyPE)
}

func (st Stealth) payloadAdvice() string {
	switch {
	case st.Rating == RatingStealthy:
		return fmt.Sprintf("Stealthy: %s bits per channel, within the %.3f at which our detector errs on at least %.0f%% of images.", bpcText(st.BitsPerChannel), st.StealthyBitsPerChannel, 100*StealthyPE)
	case st.DetectorPE != nil:
		return fmt.Sprintf("Detectable: %s bits per channel; our detector errs on only about %.0f%% of such images (50%% is a coin toss, 0%% always right), and a stronger one does better. %s", bpcText(st.BitsPerChannel), 100**st.DetectorPE, st.smallerAdvice())
	}
	if st.Rating == RatingUnknown {
		return "Not measured: " + st.NoStealthyReason + "."
	}
	return "Detectable: " + st.NoStealthyReason + "."
}

func (st Stealth) smallerAdvice() string {
	if st.StealthyBytes == nil {
		return "No payload in this mode stays stealthy."
	}
	return fmt.Sprintf("Stealthy would be at most %d bytes here; a bigger cover holds more.", *st.StealthyBytes)
}

// bpcText writes a payload in bits per channel to three decimals, and a
// small one in a photo as what it is rather than as 0.000.
func bpcText(bpc float64) string {
	if bpc > 0 && bpc < 0.0005 {
		return "under 0.001"
	}
	return fmt.Sprintf("%.3f", bpc)
}
