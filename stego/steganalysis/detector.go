package steganalysis

import (
	"bytes"
	_ "embed"
	"encoding/gob"
	"fmt"
	"image"
	"io"
	"sync"
)

// ModelVersion is the format version of serialised models; a model of
// another version is refused rather than misread.
const ModelVersion = 1

// MaxAnalysedSide bounds the region Detect analyses: a larger image is
// analysed on its central MaxAnalysedSide×MaxAnalysedSide region. The
// features are rates, so a 4-megapixel sample estimates them well, and
// the bound keeps time and memory (about 100 bytes per pixel, see
// WorkingBytes) in check.
const MaxAnalysedSide = 2048

// Detector is a trained model with its decision threshold. It is
// immutable after loading and safe for concurrent use.
type Detector struct {
	model model
}

// model is the serialised form.
type model struct {
	Version   int
	Dim       int
	Threshold float64 // vote fraction above which the verdict is stego
	Info      string  // how the model was trained
	Ensemble  Ensemble
}

// Verdict is the detector's decision.
type Verdict string

const (
	VerdictCover Verdict = "cover"
	VerdictStego Verdict = "stego"
)

// Result is what Detect reports.
type Result struct {
	// Score is the fraction of base learners that vote stego, 0–1. It is
	// the continuous output: callers may apply their own threshold.
	Score   float64
	Verdict Verdict
	// Gray is set when the image had one channel: the colour features
	// are zero and the model, trained on colour photographs, is outside
	// its training conditions, so the score is less reliable.
	Gray bool
	// Region is the part of the image that was analysed.
	Region image.Rectangle
}

//go:embed model.gob
var embeddedModel []byte

// Default returns the shipped detector, decoded from the embedded model
// on first use (sync.OnceValues: the one piece of package state, written
// once and read-only after).
func Default() (*Detector, error) { return loadDefault() }

var loadDefault = sync.OnceValues(func() (*Detector, error) {
	return Load(bytes.NewReader(embeddedModel))
})

// Load reads a model written by Save.
func Load(r io.Reader) (*Detector, error) {
	var m model
	if err := gob.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	if m.Version != ModelVersion || m.Dim != Dim || m.Ensemble.Dim != Dim || len(m.Ensemble.Learners) == 0 {
		return nil, fmt.Errorf("%w: version %d, dimension %d (want %d, %d)", ErrBadModel, m.Version, m.Dim, ModelVersion, Dim)
	}
	for _, l := range m.Ensemble.Learners {
		if len(l.Idx) != len(l.W) {
			return nil, fmt.Errorf("%w: learner with %d indices and %d weights", ErrBadModel, len(l.Idx), len(l.W))
		}
		for _, i := range l.Idx {
			if int(i) >= Dim {
				return nil, fmt.Errorf("%w: feature index %d out of range", ErrBadModel, i)
			}
		}
	}
	return &Detector{model: m}, nil
}

// NewDetector wraps a trained ensemble; threshold is the vote fraction
// above which Detect says stego (0.5 is a majority vote).
func NewDetector(en *Ensemble, threshold float64, info string) (*Detector, error) {
	if en == nil || en.Dim != Dim {
		return nil, fmt.Errorf("%w: ensemble of dimension other than %d", ErrDimension, Dim)
	}
	return &Detector{model: model{Version: ModelVersion, Dim: Dim, Threshold: threshold, Info: info, Ensemble: *en}}, nil
}

// Save writes the model (gob, float32 weights).
func (d *Detector) Save(w io.Writer) error {
	if err := gob.NewEncoder(w).Encode(d.model); err != nil {
		return fmt.Errorf("steganalysis: save model: %w", err)
	}
	return nil
}

// Info describes how the model was trained.
func (d *Detector) Info() string { return d.model.Info }

// Threshold is the vote fraction above which the verdict is stego.
func (d *Detector) Threshold() float64 { return d.model.Threshold }

// Detect analyses img (its central MaxAnalysedSide² region if larger).
func (d *Detector) Detect(img image.Image) (Result, error) {
	if img == nil {
		return Result{}, fmt.Errorf("%w: nil image", ErrBadInput)
	}
	b := img.Bounds()
	r := centralRegion(b)
	if si, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok && r != b {
		img = si.SubImage(r)
	} else if r != b {
		return Result{}, fmt.Errorf("%w: %v is over %d px a side and cannot be cropped", ErrTooLarge, b, MaxAnalysedSide)
	}
	s, err := FromImage(img)
	if err != nil {
		return Result{}, err
	}
	res, err := d.DetectSamples(s)
	res.Region = r
	return res, err
}

// DetectSamples analyses s in full.
func (d *Detector) DetectSamples(s Samples) (Result, error) {
	f, err := Features(s)
	if err != nil {
		return Result{}, err
	}
	score, err := d.Score(f)
	if err != nil {
		return Result{}, err
	}
	v := VerdictCover
	if score > d.model.Threshold {
		v = VerdictStego
	}
	return Result{Score: score, Verdict: v, Gray: s.Channels == 1, Region: image.Rect(0, 0, s.Width, s.Height)}, nil
}

// Score is the vote fraction for a feature vector from Features.
func (d *Detector) Score(f []float32) (float64, error) {
	return d.model.Ensemble.Votes(f)
}

func centralRegion(b image.Rectangle) image.Rectangle {
	w, h := min(b.Dx(), MaxAnalysedSide), min(b.Dy(), MaxAnalysedSide)
	x0 := b.Min.X + (b.Dx()-w)/2
	y0 := b.Min.Y + (b.Dy()-h)/2
	return image.Rect(x0, y0, x0+w, y0+h)
}
