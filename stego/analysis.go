package stego

import (
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
)

// Steganalysis: the three classic structural attacks on LSB replacement,
// run together so that a caller (or a test of this package's own embedder)
// can see at a glance whether an image gives itself away.
//
//   - Chi-square attack (Westfeld & Pfitzmann, 1999): LSB replacement
//     equalises the histogram counts of each value pair 2k/2k+1. Run on
//     growing prefixes of the sample stream it exposes sequential
//     embedding, which a whole-image test dilutes.
//   - RS analysis (Fridrich, Goljan & Du, 2001): flipping LSBs changes the
//     smoothness of small pixel groups asymmetrically; the asymmetry
//     shrinks in a predictable way as the embedding rate grows.
//   - SPA, sample pair analysis (Dumitrescu, Wu & Wang, 2003): counts of
//     adjacent-sample pair classes obey an identity in natural images that
//     LSB replacement breaks by an amount quadratic in the rate.
//
// All three model LSB *replacement*. ±1 embedding (LSB matching) does not
// create the pair structure they look for, which is why the package's
// embedder uses it; the tests keep that claim honest.
//
// Bit depth: 16-bit rasters are analysed on their full sample values. The
// LSB the detectors examine is then the low byte's LSB, which is where the
// embedder writes, so the maths is unchanged. The thresholds below were
// calibrated on 8-bit photographs only; in genuine 16-bit captures the
// lowest bit is sensor noise and every detector loses most of its power,
// so a clean verdict on a 16-bit image means little.
//
// Alpha is never analysed: it carries no data.

// Verdict thresholds, calibrated on the real photographs in testdata/covers
// (the 1920×1280 PNG and JPEG, the 640×426 PNG and a grayscale version):
// every half-overlapping square tile of 128, 192, 256, 384, 512 and 768
// pixels, plus the whole images — about 3,000 clean images — each also
// with ±1 matching at 0.2 bits per channel, random LSB replacement at
// 0.05 and 0.1, and sequential LSB replacement at 0.1 and 0.2.
// TestAnalyzeCleanSpread and TestAnalyzeControls in analysis_test.go
// re-measure the spread on a smaller set and print it;
// BenchmarkAnalyzeCalibrationSweep re-runs the full sweep on demand. A test that pushes
// the package's own embedder through Analyze should compare against these
// same constants (or simply Analysis.Suspicious).
const (
	// chiSquareSuspectP: a prefix whose chi-square p-value reaches this
	// looks pair-equalised. This alone is not enough evidence. On its
	// own the classic attack flagged ~80% of clean 128–512 pixel tiles of
	// the test photographs: wherever a histogram is smooth and the sample
	// count modest, the 2k/2k+1 differences are buried in counting noise
	// and look "equalised" too. Hence the control below.
	chiSquareSuspectP = 0.95
	// chiSquareControlMaxP: the same statistic on the shifted pairs
	// 2k−1/2k, which LSB replacement does not equalise, must at the same
	// time show a clearly natural histogram (p at most this). Then the
	// histogram is resolved finely enough for the attack to mean
	// something, and only the pairs that replacement touches are flat.
	// With both conditions (and chiSquareMinSamples) none of ~2,000
	// clean tiles and none of their ±1-embedded versions was flagged,
	// while sequential replacement of the first 20% was caught in every
	// 768-pixel tile and whole image, and in ~75% of 512-pixel tiles.
	chiSquareControlMaxP = 1e-6
	// chiSquareMinSamples: prefixes with fewer samples are reported but
	// never count towards the verdict. Below this, chance alignments of
	// the histogram in small regions produced the only false alarms of
	// the rule above (two ±1-embedded 128-pixel tiles, at ~15,000
	// samples).
	chiSquareMinSamples = 20000
	// chiSquareMinPairCount: a value pair whose two counts sum to less
	// than this is left out of the statistic, keeping each category's
	// expected count ≥ 5 as the chi-square approximation requires.
	chiSquareMinPairCount = 10

	// RS and SPA are flagged when their pooled rate estimate reaches
	//
	//	rateBiasAllowance + rateNoiseK·rateNoiseScale/√N
	//
	// for N colour samples (rateThreshold). On the clean tiles both
	// estimators' error had a standard deviation of rateNoiseScale/√N —
	// 24/√N for RS and 23/√N for SPA, steady from 128- to 768-pixel tiles
	// — on top of a content bias that does not shrink with size (up to
	// +0.025 on the whole decoded JPEG, +0.054 on the 640 PNG). The
	// allowance covers that bias; the noise term keeps small images from
	// being flagged on noise. With these constants the verdict flagged
	// one clean 128- and one clean 192-pixel tile out of ~3,000
	// (half-overlapping, so not independent), and one 128-pixel tile
	// after ±1 embedding; no clean or ±1-embedded image of 256 pixels or
	// more even reached 0.03 + 4σ. The price is sensitivity: random-
	// position replacement at 0.1 is flagged on the 1920×1280 RGB
	// images but not on the 640×426 one (0.14 against 0.16).
	// Examples: 0.074 for 1920×1280 RGB, 0.16 for 640×426 RGB, and above
	// 1 — never flagged — below about 15,000 samples (71×71 RGB).
	rateBiasAllowance = 0.03
	rateNoiseScale    = 24.0
	rateNoiseK        = 5.0

	// psnrIdentical is the PSNR reported when the image equals its cover.
	// The true value is +Inf, which JSON cannot carry. Any real change
	// scores far below it: one changed 16-bit sample among 10⁹ still gives
	// only ~186 dB.
	psnrIdentical = 999.0
)

// rateThreshold is the RS/SPA rate at which an image of n colour samples
// is flagged (see rateBiasAllowance).
func rateThreshold(n int) float64 {
	return rateBiasAllowance + rateNoiseK*rateNoiseScale/math.Sqrt(float64(max(n, 1)))
}

// chiSquarePrefixes are the sample-stream prefixes tested by the
// chi-square attack. They are dense at the start, where a short
// sequential message would sit.
func chiSquarePrefixes() []float64 {
	return []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
}

// Analysis is the report of Analyze. Rates are in bits per colour channel
// sample (0 = clean, 1 = every sample's LSB carries message). Estimates
// can come out slightly negative on clean images; they are clamped to
// [-1, 1].
type Analysis struct {
	Width    int `json:"width"`
	Height   int `json:"height"`
	Channels int `json:"channels"`  // colour channels analysed: 1 or 3
	BitDepth int `json:"bit_depth"` // 8 or 16
	Samples  int `json:"samples"`   // colour samples analysed

	ChiSquare ChiSquareReport `json:"chi_square"`
	RS        RSReport        `json:"rs"`
	SPA       SPAReport       `json:"spa"`
	// Distortion is present only when a cover was given.
	Distortion *Distortion `json:"distortion,omitempty"`

	// JPEGCompat is the JPEG-compatibility test (analysis_jpegcompat.go):
	// was the image decoded from a JPEG, and changed since? Present for
	// 8-bit images of at least 32×32 pixels; omitted for 16-bit ones.
	JPEGCompat *JPEGCompatReport `json:"jpeg_compat,omitempty"`

	// Suspicious is true when any classic detector (chi-square, RS,
	// SPA) crossed its threshold or the JPEG-compatibility test found a
	// decoded JPEG with samples changed since; Reasons then says which
	// and by how much. Reasons is empty, never nil. The rich model does
	// not set them (see FlaggedBy).
	Suspicious bool     `json:"suspicious"`
	Reasons    []string `json:"reasons"`

	// RichModel is the rich-model detector's result, present when it
	// was asked for (AnalyzeImageWith with AnalyzeOptions.RichModel,
	// which stegoctl analyze and /api/analyze set unless told not to).
	// Its false alarms are frequent: see RichModelFalseAlarmRate.
	RichModel *RichModelReport `json:"rich_model,omitempty"`
	// FlaggedBy names every detector whose verdict is stego, in this
	// order: "chi-square", "rs", "spa", "jpeg-compat" (any of which sets
	// Suspicious) and "rich-model". Empty, never nil.
	FlaggedBy []string `json:"flagged_by"`
	// Summary says in one sentence which detectors flag the image.
	Summary string `json:"summary"`
}

// ChiSquareReport is the Westfeld–Pfitzmann attack. Its p-value is the
// probability that a chi-square variable exceeds the observed statistic:
// near 1 means the 2k/2k+1 counts are as equal as full LSB replacement
// makes them, near 0 means the histogram has a natural shape.
type ChiSquareReport struct {
	PValue   float64           `json:"p_value"` // whole image
	Prefixes []ChiSquarePrefix `json:"prefixes"`
	// SuspectFraction is the longest prefix (as a fraction of the
	// samples) that is flagged: large enough, PValue high and
	// ControlPValue low. For sequential embedding it is at least the
	// payload's share of the image, and more where the rest of the image
	// has a histogram too smooth to tell apart. 0 when no prefix is.
	SuspectFraction float64 `json:"suspect_fraction"`
}

// ChiSquarePrefix is the attack run on the first Fraction of the samples
// in raster order (rounded to whole pixels).
type ChiSquarePrefix struct {
	Fraction   float64 `json:"fraction"`
	Samples    int     `json:"samples"`
	Categories int     `json:"categories"` // value pairs counted; degrees of freedom + 1
	Statistic  float64 `json:"statistic"`
	PValue     float64 `json:"p_value"`
	// ControlPValue is the same test on the shifted pairs 2k−1/2k, which
	// LSB replacement leaves alone. Near 0 it shows the histogram is
	// resolved finely enough for PValue to mean something; see
	// chiSquareControlMaxP.
	ControlPValue float64 `json:"control_p_value"`
}

// RSReport is the Fridrich–Goljan–Du RS analysis with mask [0 1 1 0] on
// groups of four horizontally adjacent samples of one channel.
type RSReport struct {
	Rate       float64   `json:"rate"`        // from the counts of all channels pooled
	PerChannel []float64 `json:"per_channel"` // one per colour channel
	Groups     int       `json:"groups"`      // groups counted, all channels
	Threshold  float64   `json:"threshold"`   // Rate at which this image is flagged
}

// SPAReport is the Dumitrescu–Wu–Wang sample pair analysis on
// horizontally adjacent samples of one channel.
type SPAReport struct {
	Rate       float64   `json:"rate"`        // from the counts of all channels pooled
	PerChannel []float64 `json:"per_channel"` // one per colour channel
	Pairs      int       `json:"pairs"`       // pairs counted, all channels
	Threshold  float64   `json:"threshold"`   // Rate at which this image is flagged
}

// Distortion compares the image with its cover, colour samples only, in
// sample units (0–255 or 0–65535).
type Distortion struct {
	MSE float64 `json:"mse"`
	// PSNR in dB against the format's peak value; psnrIdentical (999)
	// when nothing changed, since JSON has no infinity.
	PSNR            float64 `json:"psnr_db"`
	Identical       bool    `json:"identical"`
	ChangedSamples  int     `json:"changed_samples"`
	ChangedFraction float64 `json:"changed_fraction"`
	MaxAbsChange    int     `json:"max_abs_change"`
}

// Analyze runs classic LSB steganalysis on img; if cover is non-nil (same
// size), it also reports distortion against it.
func Analyze(img image.Image, cover image.Image) (*Analysis, error) {
	if img == nil {
		return nil, fmt.Errorf("analyze: %w: no image", ErrUnsupportedFormat)
	}
	r, err := rasterFromImage(img, false)
	if err != nil {
		return nil, fmt.Errorf("analyze: image: %w", err)
	}
	var c *raster
	if cover != nil {
		if c, err = rasterFromImage(cover, false); err != nil {
			return nil, fmt.Errorf("analyze: cover: %w", err)
		}
	}
	return analyzeRaster(r, c)
}

// analyzeRaster is Analyze on rasters; cover may be nil.
func analyzeRaster(img, cover *raster) (*Analysis, error) {
	if img == nil || img.width <= 0 || img.height <= 0 || len(img.pix) < img.height*img.rowStride() {
		return nil, fmt.Errorf("analyze: %w: empty or malformed image", ErrUnsupportedFormat)
	}
	if img.channels != 1 && img.channels != 3 {
		return nil, fmt.Errorf("analyze: %w: %d colour channels", ErrUnsupportedFormat, img.channels)
	}
	if cover != nil {
		if cover.width != img.width || cover.height != img.height {
			return nil, fmt.Errorf("analyze: %w: cover is %dx%d, image is %dx%d",
				ErrInvalidOptions, cover.width, cover.height, img.width, img.height)
		}
		if cover.channels != img.channels || cover.depth16 != img.depth16 {
			return nil, fmt.Errorf("analyze: %w: cover has %d channels at %d bits, image %d at %d bits",
				ErrInvalidOptions, cover.channels, 8*cover.bytesPerSample(), img.channels, 8*img.bytesPerSample())
		}
		if len(cover.pix) < cover.height*cover.rowStride() {
			return nil, fmt.Errorf("analyze: %w: malformed cover", ErrUnsupportedFormat)
		}
	}

	a := &Analysis{
		Width:    img.width,
		Height:   img.height,
		Channels: img.channels,
		BitDepth: 8 * img.bytesPerSample(),
		Samples:  img.dataSamples(),
		Reasons:  []string{},
	}
	// The detectors work on a dense slice of colour samples, generic over
	// the sample width so the 8-bit case runs on bytes (and, for RGB
	// without alpha, on the raster's own pix with no copy).
	// The JPEG test reads the raster itself and is independent of the
	// others: run it beside them (bounded: at most 4096 MCUs, ~2 MB).
	var jwg sync.WaitGroup
	if !img.depth16 {
		jwg.Go(func() { a.JPEGCompat = jpegCompat(img) })
	}
	if img.depth16 {
		vals := denseSamples16(img)
		runDetectors(a, vals, img.width, img.height, img.channels, img.maxSample())
		if cover != nil {
			a.Distortion = measureDistortion(vals, denseSamples16(cover), img.maxSample())
		}
	} else {
		vals := denseSamples8(img)
		runDetectors(a, vals, img.width, img.height, img.channels, img.maxSample())
		if cover != nil {
			a.Distortion = measureDistortion(vals, denseSamples8(cover), img.maxSample())
		}
	}
	jwg.Wait()
	a.judge()
	return a, nil
}

// anaSample is the element type of a dense sample slice.
type anaSample interface{ ~uint8 | ~uint16 }

// denseSamples8 returns the colour samples of an 8-bit raster in raster
// order, alpha dropped. Without alpha that is pix itself (read only).
func denseSamples8(r *raster) []byte {
	n := r.dataSamples()
	if !r.alpha {
		return r.pix[:n]
	}
	out := make([]byte, n)
	spp := r.samplesPerPixel()
	for p, o := 0, 0; o < n; p += spp {
		copy(out[o:o+r.channels], r.pix[p:p+r.channels])
		o += r.channels
	}
	return out
}

// denseSamples16 returns the colour samples of a 16-bit raster as
// integers in raster order, alpha dropped.
func denseSamples16(r *raster) []uint16 {
	n := r.dataSamples()
	out := make([]uint16, n)
	spp := r.samplesPerPixel()
	for p, o := 0, 0; o < n; p += 2 * spp {
		for c := 0; c < r.channels; c++ {
			out[o] = uint16(r.pix[p+2*c])<<8 | uint16(r.pix[p+2*c+1])
			o++
		}
	}
	return out
}

// runDetectors fills in the three detector reports. The detectors are
// independent passes over read-only data, so they run concurrently. RS
// and SPA are each about 45% of the ~65 ms a 1920×1280 RGB image costs
// sequentially, so with two free cores the wall time nears half of that.
func runDetectors[T anaSample](a *Analysis, vals []T, w, h, ch, maxv int) {
	var wg sync.WaitGroup
	wg.Go(func() { a.RS = rsAnalyze(vals, w, h, ch) })
	wg.Go(func() { a.SPA = spaAnalyze(vals, w, h, ch) })
	a.ChiSquare = chiSquareAnalyze(vals, w*h, ch, maxv)
	wg.Wait()
	a.RS.Threshold = rateThreshold(len(vals))
	a.SPA.Threshold = rateThreshold(len(vals))
}

// measureDistortion compares two equally shaped dense sample slices.
func measureDistortion[T anaSample](img, cover []T, maxv int) *Distortion {
	var sq float64
	changed, maxAbs := 0, 0
	// Sum squared differences in integers per block: exact and faster
	// than per-sample float additions, and a block of 4096 samples of
	// at most 65535² each cannot overflow int64.
	for start := 0; start < len(img); start += 4096 {
		end := min(start+4096, len(img))
		var blk int64
		for i := start; i < end; i++ {
			d := int(img[i]) - int(cover[i])
			if d != 0 {
				changed++
				if d < 0 {
					d = -d
				}
				maxAbs = max(maxAbs, d)
				blk += int64(d) * int64(d)
			}
		}
		sq += float64(blk)
	}
	n := float64(len(img))
	d := &Distortion{
		ChangedSamples:  changed,
		ChangedFraction: float64(changed) / n,
		MaxAbsChange:    maxAbs,
		MSE:             sq / n,
		Identical:       changed == 0,
		PSNR:            psnrIdentical,
	}
	if changed > 0 {
		peak := float64(maxv)
		d.PSNR = 10 * math.Log10(peak*peak/d.MSE)
	}
	return d
}

// judge sets the verdict from the detector reports. Any one detector
// crossing its threshold is enough: each targets a different trace
// (pair equalisation in a prefix, group smoothness, pair classes), and a
// sequential payload can be obvious to one and diluted for the others.
func (a *Analysis) judge() {
	cs := &a.ChiSquare
	if cs.SuspectFraction > 0 {
		var pr ChiSquarePrefix
		for _, p := range cs.Prefixes {
			if p.Fraction == cs.SuspectFraction {
				pr = p
			}
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf(
			"chi-square: the first %.0f%% of samples have pair-equalised value counts (p=%.3f, shifted-pair control p=%.1e), the signature of sequential LSB replacement",
			100*cs.SuspectFraction, pr.PValue, pr.ControlPValue))
	}
	if a.RS.Rate >= a.RS.Threshold {
		a.Reasons = append(a.Reasons, fmt.Sprintf(
			"RS: estimated LSB replacement rate %.3f bits per channel (threshold %.3f for this size)", a.RS.Rate, a.RS.Threshold))
	}
	if a.SPA.Rate >= a.SPA.Threshold {
		a.Reasons = append(a.Reasons, fmt.Sprintf(
			"SPA: estimated LSB replacement rate %.3f bits per channel (threshold %.3f for this size)", a.SPA.Rate, a.SPA.Threshold))
	}
	if j := a.JPEGCompat; j != nil && j.Modified {
		what := fmt.Sprintf("%d of %d tested 8×8 blocks hold a pixel whose green alone is off by 1 from the best JPEG decoding", j.Incompatible, j.MCUs)
		if a.Channels == 1 {
			what = fmt.Sprintf("in %d of %d tested 8×8 blocks a single pixel is off by 1 from the only JPEG decoding that fits the rest", j.Incompatible, j.MCUs)
		}
		a.Reasons = append(a.Reasons, fmt.Sprintf(
			"JPEG compatibility: the image is a decoded JPEG (about quality %d) and %s — samples were changed after decoding, as ±1 embedding does",
			j.Quality, what))
	}
	a.Suspicious = len(a.Reasons) > 0
	a.summarize()
}

// summarize sets FlaggedBy and Summary from the reports: the classic
// tests' verdicts and, when it ran, the rich model's.
func (a *Analysis) summarize() {
	a.FlaggedBy = []string{}
	if a.ChiSquare.SuspectFraction > 0 {
		a.FlaggedBy = append(a.FlaggedBy, "chi-square")
	}
	if a.RS.Rate >= a.RS.Threshold {
		a.FlaggedBy = append(a.FlaggedBy, "rs")
	}
	if a.SPA.Rate >= a.SPA.Threshold {
		a.FlaggedBy = append(a.FlaggedBy, "spa")
	}
	if a.JPEGCompat != nil && a.JPEGCompat.Modified {
		a.FlaggedBy = append(a.FlaggedBy, "jpeg-compat")
	}
	rm := a.RichModel
	if rm != nil && rm.Verdict == "stego" {
		a.FlaggedBy = append(a.FlaggedBy, "rich-model")
	}
	classic := len(a.FlaggedBy) > 0 && a.FlaggedBy[0] != "rich-model"
	switch {
	case rm == nil && !classic:
		a.Summary = "no classic detector (chi-square, RS, SPA, JPEG compatibility) flags this image"
	case rm == nil:
		a.Summary = fmt.Sprintf("flagged by %s", strings.Join(a.FlaggedBy, ", "))
	case len(a.FlaggedBy) == 0 && rm.Verdict == RichModelSkipped:
		a.Summary = "no classic detector flags this image; the rich model did not run (" + rm.Skipped + ")"
	case len(a.FlaggedBy) == 0:
		a.Summary = fmt.Sprintf("no detector flags this image (rich-model score %.2f)", rm.Score)
	case !classic:
		a.Summary = fmt.Sprintf("flagged by the rich model (score %.2f), not by the classic detectors", rm.Score)
	case rm.Verdict == "stego":
		a.Summary = fmt.Sprintf("flagged by %s (rich-model score %.2f)", strings.Join(a.FlaggedBy, ", "), rm.Score)
	case rm.Verdict == RichModelSkipped:
		a.Summary = fmt.Sprintf("flagged by %s; the rich model did not run (%s)", strings.Join(a.FlaggedBy, ", "), rm.Skipped)
	default:
		a.Summary = fmt.Sprintf("flagged by %s, not by the rich model (score %.2f)", strings.Join(a.FlaggedBy, ", "), rm.Score)
	}
	if j := a.JPEGCompat; j != nil && j.JPEGLike && !j.Modified {
		a.Summary += fmt.Sprintf("; the pixels are a decoded JPEG (about quality %d): hiding data in them would be exposed by JPEG-compatibility analysis", j.Quality)
	}
}

// anaClampRate keeps an estimate finite and within [-1, 1]. Outside that
// range the estimators' models have broken down and the number carries
// no information beyond its sign.
func anaClampRate(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return 0
	case p < -1:
		return -1
	case p > 1:
		return 1
	}
	return p
}

// anaSmallerRoot returns the root of a·x² + b·x + c = 0 that is smaller in
// absolute value (both RS and SPA want the root near zero; the other one
// is an artefact of the quadratic model). It degrades gracefully: a
// linear equation gives its single root, a negative discriminant gives
// the vertex (the closest the parabola comes to a root), and an equation
// with no information gives 0.
func anaSmallerRoot(a, b, c float64) float64 {
	const eps = 1e-12
	scale := math.Max(math.Abs(a), math.Max(math.Abs(b), math.Abs(c)))
	if scale == 0 {
		return 0
	}
	a, b, c = a/scale, b/scale, c/scale
	if math.Abs(a) < eps {
		if math.Abs(b) < eps {
			return 0
		}
		return -c / b
	}
	disc := b*b - 4*a*c
	if disc < 0 {
		return -b / (2 * a)
	}
	// Numerically stable form: q has the sign of b so no cancellation.
	q := -0.5 * (b + math.Copysign(math.Sqrt(disc), b))
	if q == 0 {
		return 0
	}
	r1, r2 := q/a, c/q
	if math.Abs(r1) < math.Abs(r2) {
		return r1
	}
	return r2
}
