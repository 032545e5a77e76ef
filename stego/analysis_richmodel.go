package stego

import (
	"errors"
	"fmt"

	"github.com/stegocluster/stegocluster/stego/steganalysis"
)

// The rich-model detector: package steganalysis's trained ensemble
// (SPAM, a compact spatial rich model and colour co-occurrences,
// classified by an FLD ensemble; docs/stealth.md), run beside the classic
// tests when AnalyzeOptions.RichModel is set (stegoctl analyze and
// /api/analyze set it unless told not to; AnalyzeImage never does).
// Unlike chi-square, RS and SPA it was trained against this codec's own
// ±1 embedding, and it tells such images from clean ones better than
// chance at payloads the classic tests miss — not reliably (its P_E is
// in docs/stealth.md), and out of fold it also calls about 26% of clean
// photographs stego (RichModelFalseAlarmRate): a stego verdict is worth
// a closer look, not proof.
//
// How it enters the verdict: Suspicious and Reasons keep their meaning,
// the classic tests and the JPEG-compatibility test only (existing
// consumers and calibrations rely on it, and the rich model has a
// higher false-alarm rate). The rich
// model's verdict is reported in RichModel; FlaggedBy lists every
// detector whose verdict is stego, the rich model included, and Summary
// says the same in a sentence.

// RichModel verdicts beside steganalysis's "cover" and "stego".
const (
	// RichModelSkipped: the detector did not run (Skipped says why);
	// Score means nothing.
	RichModelSkipped = "skipped"
)

// RichModelFalseAlarmRate is the rich model's measured false-alarm rate
// at its threshold (0.5): the fraction of clean photographs, unseen in
// training, that it calls stego (out of fold by photo; docs/stealth.md,
// "False alarms"). Every report of it says so.
const RichModelFalseAlarmRate = 0.26

// RichModelMinSide is the smallest side of the region a caller bounded by
// memory (RichModelSideFor) lets the rich model analyse: the model was
// trained on 512×512 crops, and a much smaller region says little.
const RichModelMinSide = 256

// AnalyzeOptions selects optional parts of an analysis.
type AnalyzeOptions struct {
	// RichModel runs the rich-model detector besides the classic tests
	// and fills in Analysis.RichModel. It costs about 0.5 µs of CPU and
	// RichModelCost bytes of memory per analysed pixel.
	RichModel bool
	// RichModelMaxSide bounds the side of the central region the rich
	// model analyses; 0 (or more than steganalysis.MaxAnalysedSide, 2048)
	// means 2048, the most it ever analyses. A caller with a memory
	// budget passes less (RichModelSideFor).
	RichModelMaxSide int
	// RichModelSkip, when not empty, reports the rich model as skipped
	// for this reason instead of running it (a caller that has no memory
	// left for it says so rather than dropping the field).
	RichModelSkip string
}

// RichModelReport is the rich-model detector's result.
type RichModelReport struct {
	// Score is the fraction of the ensemble's Fisher discriminants that
	// vote stego, 0–1.
	Score float64 `json:"score"`
	// Threshold: the verdict is stego when Score is above it (0.5, a
	// majority vote).
	Threshold float64 `json:"threshold"`
	// FalseAlarmRate is the fraction of clean photographs the model calls
	// stego (RichModelFalseAlarmRate), for reading a stego verdict.
	FalseAlarmRate float64 `json:"false_alarm_rate"`
	// Verdict is "cover", "stego", or "skipped" when the detector did
	// not run (then Skipped says why).
	Verdict string `json:"verdict"`
	Skipped string `json:"skipped,omitempty"`
	// Region is the part of the image analysed: the central region of
	// at most RichModelMaxSide (2048) pixels a side.
	Region AnalysedRegion `json:"region"`
	// Gray: a one-channel image, analysed without the colour features
	// the model relies on; the score is less reliable.
	Gray bool `json:"gray"`
	// Model says how the shipped model was trained.
	Model string `json:"model"`
	// Notes are caveats on reading this result. Never nil.
	Notes []string `json:"notes"`
}

// AnalysedRegion is a rectangle of the image, in pixels.
type AnalysedRegion struct {
	X      int `json:"x"`
	Y      int `json:"y"`
	Width  int `json:"width"`
	Height int `json:"height"`
}

// richModelNote is the caveat every rich-model result carries.
const richModelNote = "trained on 33 photographs, each downscaled several ways, against this codec's keyed ±1 mode, which it catches reliably at 0.4 bits per channel and often at 0.2; it has many false alarms too — out of fold about 26% of clean photographs score above 0.5 — so a stego verdict alone proves nothing (docs/stealth.md gives its error rates)"

// richModelRegion is the central region the rich model analyses in a
// width×height image with sides bounded by maxSide.
func richModelRegion(width, height, maxSide int) AnalysedRegion {
	if maxSide <= 0 || maxSide > steganalysis.MaxAnalysedSide {
		maxSide = steganalysis.MaxAnalysedSide
	}
	w, h := min(width, maxSide), min(height, maxSide)
	return AnalysedRegion{X: (width - w) / 2, Y: (height - h) / 2, Width: w, Height: h}
}

// RichModelCost bounds the bytes the rich model allocates analysing m
// with its region bounded by maxSide (0: the default 2048): the region's
// 8-bit samples and the detector's working set, about 100 bytes per
// pixel of the region for RGB — 420 MB for a full 2048×2048 region.
// Nothing when the detector would not run (16-bit or too small images).
func (m *Image) RichModelCost(maxSide int) int64 {
	if m.r.depth16 || m.r.width < steganalysis.MinSide || m.r.height < steganalysis.MinSide {
		return 0
	}
	reg := richModelRegion(m.r.width, m.r.height, maxSide)
	return int64(reg.Width)*int64(reg.Height)*int64(m.r.channels) + steganalysis.WorkingBytes(reg.Width, reg.Height, m.r.channels)
}

// RichModelSideFor is the largest region side, at most 2048 and halving
// from there, whose RichModelCost fits in avail bytes; 0 when not even
// RichModelMinSide fits. It lets a caller with a memory budget analyse a
// smaller central region rather than refuse a large image.
func (m *Image) RichModelSideFor(avail int64) int {
	for side := steganalysis.MaxAnalysedSide; side >= RichModelMinSide; side /= 2 {
		if m.RichModelCost(side) <= avail {
			return side
		}
	}
	return 0
}

// AnalyzeImageWith is AnalyzeImage with options: with opts.RichModel it
// also runs the rich-model detector on img (never on the cover); without
// it, it is exactly AnalyzeImage.
func AnalyzeImageWith(img, cover *Image, opts AnalyzeOptions) (*Analysis, error) {
	if img == nil {
		return nil, fmt.Errorf("analyze: %w: no image", ErrUnsupportedFormat)
	}
	a, err := AnalyzeImage(img, cover)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.RichModel && opts.RichModelSkip != "":
		a.RichModel = &RichModelReport{Verdict: RichModelSkipped, Skipped: opts.RichModelSkip, FalseAlarmRate: RichModelFalseAlarmRate, Notes: []string{}}
		if d, err := steganalysis.Default(); err == nil {
			a.RichModel.Model, a.RichModel.Threshold = d.Info(), d.Threshold()
		}
		a.summarize()
	case opts.RichModel:
		a.RichModel = richModel(img.r, opts.RichModelMaxSide)
		a.summarize()
	}
	return a, nil
}

// richModel runs the shipped detector on r's central region. It never
// fails the analysis: what it cannot analyse is reported as skipped.
func richModel(r *raster, maxSide int) *RichModelReport {
	rep := &RichModelReport{Verdict: RichModelSkipped, FalseAlarmRate: RichModelFalseAlarmRate, Notes: []string{}}
	d, err := steganalysis.Default()
	if err != nil {
		rep.Skipped = "the embedded model cannot be read: " + err.Error()
		return rep
	}
	rep.Model, rep.Threshold = d.Info(), d.Threshold()
	if r.depth16 {
		rep.Skipped = "16-bit image: the detector reads 8-bit samples, and this codec writes into the low byte, which it cannot see"
		return rep
	}
	if r.width < steganalysis.MinSide || r.height < steganalysis.MinSide {
		rep.Skipped = fmt.Sprintf("image under %d pixels a side", steganalysis.MinSide)
		return rep
	}
	reg := richModelRegion(r.width, r.height, maxSide)
	res, err := d.DetectSamples(richSamples(r, reg))
	if err != nil {
		rep.Skipped = err.Error()
		if errors.Is(err, steganalysis.ErrTooSmall) {
			rep.Skipped = "region too small: " + err.Error()
		}
		return rep
	}
	rep.Score, rep.Verdict, rep.Gray, rep.Region = res.Score, string(res.Verdict), res.Gray, reg
	if reg.Width != r.width || reg.Height != r.height {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only the central %d×%d pixels were analysed", reg.Width, reg.Height))
	}
	if reg.Width < 512 || reg.Height < 512 {
		rep.Notes = append(rep.Notes, "region smaller than the 512×512 crops the model was trained on: the score is noisier")
	}
	if res.Gray {
		rep.Notes = append(rep.Notes, "gray image: the model's colour features are empty, so the score is less reliable")
	}
	rep.Notes = append(rep.Notes, richModelNote)
	return rep
}

// richSamples copies the colour samples of an 8-bit raster's region,
// alpha dropped, in the detector's interleaved form.
func richSamples(r *raster, reg AnalysedRegion) steganalysis.Samples {
	ch, spp := r.channels, r.samplesPerPixel()
	s := steganalysis.Samples{Width: reg.Width, Height: reg.Height, Channels: ch, Pix: make([]uint8, reg.Width*reg.Height*ch)}
	stride := r.rowStride()
	for y := 0; y < reg.Height; y++ {
		row := r.pix[(reg.Y+y)*stride+reg.X*spp:]
		out := s.Pix[y*reg.Width*ch : (y+1)*reg.Width*ch]
		if spp == ch {
			copy(out, row[:len(out)])
			continue
		}
		for x, o := 0, 0; o < len(out); x += spp {
			copy(out[o:o+ch], row[x:x+ch])
			o += ch
		}
	}
	return s
}
