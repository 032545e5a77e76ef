package steganalysis

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
)

// photoLike makes a deterministic smooth-plus-noise RGB image, enough
// texture for every residual to take several values.
func photoLike(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			base := 128 + 60*math.Sin(float64(x)/9)*math.Cos(float64(y)/13)
			n := rng.NormFloat64() * 3
			c := func(off float64) uint8 { return uint8(max(0, min(255, base+off+n+rng.NormFloat64()))) }
			m.SetRGBA(x, y, color.RGBA{c(10), c(0), c(-15), 255})
		}
	}
	return m
}

func blockSums(f []float32) (spam, srm, col float64) {
	for i, v := range f {
		switch {
		case i < OffsetSRM:
			spam += float64(v)
		case i < OffsetColor:
			srm += float64(v)
		default:
			col += float64(v)
		}
	}
	return
}

func TestFeatures(t *testing.T) {
	rgb := photoLike(64, 48, 1)
	gray := image.NewGray(rgb.Rect)
	for i := range gray.Pix {
		gray.Pix[i] = rgb.Pix[4*i+1]
	}
	tests := []struct {
		name      string
		img       image.Image
		channels  int
		colourSum float64 // each of the 3 colour submodels sums to 1
	}{
		{"rgb", rgb, 3, 3},
		{"gray", gray, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := FromImage(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			if s.Channels != tc.channels {
				t.Fatalf("channels %d, want %d", s.Channels, tc.channels)
			}
			a, err := Features(s)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Features(s)
			if len(a) != Dim || Dim != 3347 {
				t.Fatalf("dimension %d (Dim %d), want 3347", len(a), Dim)
			}
			for i := range a {
				if a[i] != b[i] || math.IsNaN(float64(a[i])) {
					t.Fatalf("feature %d: %v then %v", i, a[i], b[i])
				}
			}
			_, srm, col := blockSums(a)
			if math.Abs(srm-9) > 1e-3 || math.Abs(col-tc.colourSum) > 1e-3 {
				t.Errorf("block sums: SRM %.4f (want 9 submodels of 1), colour %.4f (want %v)", srm, col, tc.colourSum)
			}
		})
	}
}

// TestFeaturesSeeEmbedding checks the features move when ±1 noise is
// added: the block sums stay, but the SRM co-occurrences must change.
func TestFeaturesSeeEmbedding(t *testing.T) {
	img := photoLike(64, 64, 2)
	s, _ := FromImage(img)
	a, _ := Features(s)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range s.Pix {
		if rng.IntN(5) == 0 && s.Pix[i] > 0 && s.Pix[i] < 255 {
			s.Pix[i] += uint8(2*rng.IntN(2) - 1)
		}
	}
	b, _ := Features(s)
	var d float64
	for i := OffsetSRM; i < Dim; i++ {
		d += math.Abs(float64(a[i] - b[i]))
	}
	if d < 0.01 {
		t.Fatalf("SRM+colour features moved by %.5f under 20%% ±1 changes", d)
	}
}

// hugeImage claims enormous bounds and cannot be cropped.
type hugeImage struct{}

func (hugeImage) ColorModel() color.Model { return color.RGBAModel }
func (hugeImage) Bounds() image.Rectangle { return image.Rect(0, 0, 1<<20, 1<<20) }
func (hugeImage) At(x, y int) color.Color { return color.RGBA{} }

func TestBadInput(t *testing.T) {
	d := testDetector(t)
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"1x1", func() error { _, err := d.Detect(image.NewRGBA(image.Rect(0, 0, 1, 1))); return err }, ErrTooSmall},
		{"15x64", func() error { _, err := d.Detect(image.NewRGBA(image.Rect(0, 0, 15, 64))); return err }, ErrTooSmall},
		{"empty", func() error { _, err := d.Detect(image.NewGray(image.Rect(0, 0, 0, 0))); return err }, ErrTooSmall},
		{"nil", func() error { _, err := d.Detect(nil); return err }, ErrBadInput},
		{"huge uncroppable", func() error { _, err := d.Detect(hugeImage{}); return err }, ErrTooLarge},
		{"huge samples", func() error {
			_, err := Features(Samples{Width: 1 << 20, Height: 1 << 20, Channels: 3})
			return err
		}, ErrTooLarge},
		{"short pix", func() error {
			_, err := Features(Samples{Width: 32, Height: 32, Channels: 3, Pix: make([]uint8, 100)})
			return err
		}, ErrBadInput},
		{"2 channels", func() error {
			_, err := Features(Samples{Width: 32, Height: 32, Channels: 2, Pix: make([]uint8, 2048)})
			return err
		}, ErrBadInput},
		{"garbage model", func() error { _, err := Load(bytes.NewReader([]byte("not a model"))); return err }, ErrBadModel},
		{"wrong dimension", func() error { _, err := d.Score(make([]float32, 10)); return err }, ErrDimension},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// testDetector trains a tiny model on synthetic images, so these tests
// do not depend on the shipped one.
func testDetector(t *testing.T) *Detector {
	t.Helper()
	var cov, st [][]float32
	for i := 0; i < 6; i++ {
		s, err := FromImage(photoLike(32, 32, uint64(10+i)))
		if err != nil {
			t.Fatal(err)
		}
		a, err := Features(s)
		if err != nil {
			t.Fatal(err)
		}
		for j := range s.Pix {
			if j%3 == 0 && s.Pix[j] < 255 {
				s.Pix[j]++
			}
		}
		b, err := Features(s)
		if err != nil {
			t.Fatal(err)
		}
		cov, st = append(cov, a), append(st, b)
	}
	en, err := Train(cov, st, TrainConfig{L: 5, DSub: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(en, 0.5, "test")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTrainDeterministicAndRoundTrip(t *testing.T) {
	d1, d2 := testDetector(t), testDetector(t)
	var buf bytes.Buffer
	if err := d1.Save(&buf); err != nil {
		t.Fatal(err)
	}
	d3, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// The whole model, not a score: five learners' votes take few values,
	// and two different models may well agree on an image.
	if len(d1.model.Ensemble.Learners) != 5 {
		t.Fatalf("%d learners, want 5", len(d1.model.Ensemble.Learners))
	}
	if !reflect.DeepEqual(d1.model, d2.model) {
		t.Error("two trainings with one seed gave different models")
	}
	if !reflect.DeepEqual(d1.model, d3.model) {
		t.Error("the model changed through Save and Load")
	}
	s, err := FromImage(photoLike(40, 40, 99))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Features(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []*Detector{d1, d3} {
		if _, err := d.Score(f); err != nil {
			t.Errorf("detector %d: %v", i+1, err)
		}
	}
}

func TestPE(t *testing.T) {
	tests := []struct {
		name         string
		cover, stego []float64
		want         float64
	}{
		{"separated", []float64{0, 0.1, 0.2}, []float64{0.8, 0.9, 1}, 0},
		{"identical", []float64{0.5, 0.5}, []float64{0.5, 0.5}, 0.5},
		{"one overlap", []float64{0, 0.6}, []float64{0.5, 1}, 0.25},
		{"inverted", []float64{1, 0.9}, []float64{0, 0.1}, 0.5},
	}
	for _, tc := range tests {
		if got := PE(tc.cover, tc.stego); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: P_E %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestQuantizer(t *testing.T) {
	tests := []struct{ r, q, t, want int32 }{
		{0, 1, 2, 2}, {1, 1, 2, 3}, {-1, 1, 2, 1}, {5, 1, 2, 4}, {-5, 1, 2, 0},
		{1, 2, 2, 3}, // 0.5 rounds away from zero
		{2, 4, 2, 3}, {1, 4, 2, 2}, {6, 4, 2, 4}, {-17, 12, 2, 1}, {100, 12, 3, 6},
	}
	for _, tc := range tests {
		if got := int32(quantize(tc.r, tc.q, tc.t)); got != tc.want {
			t.Errorf("quantize(%d, q=%d, T=%d) = %d, want %d", tc.r, tc.q, tc.t, got, tc.want)
		}
	}
}

// TestFeaturesSameOnAnyCPUs: the passes over rows split across the
// CPUs, and the features must not depend on how (or the shipped model's
// scores would): one goroutine and several give the same bits, gray and
// colour, on a region whose rows split unevenly.
func TestFeaturesSameOnAnyCPUs(t *testing.T) {
	rgb := photoLike(203, 157, 7)
	gray := image.NewGray(rgb.Rect)
	for i := range gray.Pix {
		gray.Pix[i] = rgb.Pix[4*i]
	}
	for _, img := range []image.Image{rgb, gray} {
		s, err := FromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		var want []float32
		for _, procs := range []int{1, 3, 8} {
			prev := runtime.GOMAXPROCS(procs)
			got, err := Features(s)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got
				continue
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d channel(s), GOMAXPROCS %d: feature %d is %v, %v with one", s.Channels, procs, i, got[i], want[i])
				}
			}
		}
	}
}

func BenchmarkFeatures960x640(b *testing.B) {
	s, _ := FromImage(photoLike(960, 640, 5))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Features(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQuantPlane checks the branch-free plane quantiser against the
// reference rounding for every residual step used, at T = 2 and 3.
func TestQuantPlane(t *testing.T) {
	const w, h = 40, 8
	e := newExtractor(w, h)
	rng := rand.New(rand.NewPCG(4, 4))
	r := make([]int32, w*h)
	for i := range r {
		r[i] = int32(rng.IntN(2*24480+1) - 24480)
		if i%3 == 0 {
			r[i] = int32(rng.IntN(41) - 20) // small values exercise the boundaries
		}
	}
	dst := make([]uint8, w*h)
	for _, q := range []int32{q1, q2, q3, qSquare3, qSquare5, qEdge3} {
		for _, tt := range []int32{srmT, colorT} {
			e.quantPlane(dst, r, q, tt)
			for y := margin; y < h-margin; y++ {
				for x := margin; x < w-margin; x++ {
					i := y*w + x
					if want := quantize(r[i], q, tt); dst[i] != want {
						t.Fatalf("q=%d T=%d r=%d: got bin %d, want %d", q, tt, r[i], dst[i], want)
					}
				}
			}
		}
	}
}

// TestSquare5Separable checks the rank-2 KV computation against the
// plain 25-tap kernel.
func TestSquare5Separable(t *testing.T) {
	const w, h = 23, 17
	e := newExtractor(w, h)
	rng := rand.New(rand.NewPCG(6, 6))
	p := make([]int32, w*h)
	for i := range p {
		p[i] = int32(rng.IntN(256))
	}
	want := e.residual(make([]int32, w*h), p, kSquare5, margin)
	got := e.square5(make([]int32, w*h), p, make([]int32, w*h), make([]int32, w*h))
	for y := margin; y < h-margin; y++ {
		for x := margin; x < w-margin; x++ {
			if i := y*w + x; got[i] != want[i] {
				t.Fatalf("(%d,%d): %d, want %d", x, y, got[i], want[i])
			}
		}
	}
}

// TestWorkingBytesBound checks WorkingBytes against what Features
// really allocates (the runtime's count of allocated bytes, an upper
// bound on what is live at once), on one CPU and on many: the passes'
// goroutines must not make it grow with the machine.
func TestWorkingBytesBound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		w, h, ch int
		procs    int
	}{
		{"rgb 640x400", 640, 400, 3, 1},
		{"rgb 640x400", 640, 400, 3, 256},
		{"rgb 300x700", 300, 700, 3, 1},
		{"rgb 300x700", 300, 700, 3, 256},
		{"gray 640x400", 640, 400, 1, 256},
		{"rgb minimum", MinSide, MinSide, 3, 256},
	} {
		t.Run(fmt.Sprintf("%s on %d CPUs", tc.name, tc.procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			s := Samples{Width: tc.w, Height: tc.h, Channels: tc.ch, Pix: make([]uint8, tc.w*tc.h*tc.ch)}
			for i := range s.Pix {
				s.Pix[i] = uint8(i*7 + i/tc.w)
			}
			if _, err := Features(s); err != nil { // warm up the package's tables
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := Features(s); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			got, bound := int64(after.TotalAlloc-before.TotalAlloc), WorkingBytes(tc.w, tc.h, tc.ch)
			t.Logf("%s: allocated %d bytes (%.1f per pixel), bound %d", tc.name, got, float64(got)/float64(tc.w*tc.h), bound)
			if got > bound {
				t.Fatalf("Features allocated %d bytes, WorkingBytes says at most %d", got, bound)
			}
			if got < bound/2 && tc.w*tc.h > 100_000 {
				t.Fatalf("Features allocated %d bytes, WorkingBytes (%d) is over twice that: update the accounting", got, bound)
			}
		})
	}
}
