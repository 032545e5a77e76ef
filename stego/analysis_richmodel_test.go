package stego

import (
	"image"
	"image/color"
	"reflect"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/stego/steganalysis"
)

// richTestImage is deterministic photo-like texture: smooth gradients
// plus noise, different per channel.
func richTestImage(w, h int, alpha uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	x := uint32(12345)
	for i := 0; i < w*h; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		px, py := i%w, i/w
		m.Pix[4*i] = uint8((px*3+py)/8 + int(x&7))
		m.Pix[4*i+1] = uint8((px+py*2)/8 + int(x>>3&7))
		m.Pix[4*i+2] = uint8((px*2+py*3)/16 + int(x>>6&7))
		m.Pix[4*i+3] = alpha
	}
	return m
}

// TestRichModelSamplesAndRegion: the samples package stego hands the
// detector (from its raster, alpha dropped, central region) are exactly
// those steganalysis.Detect reads from the standard image, so the
// scores agree whatever the raster's layout.
func TestRichModelSamplesAndRegion(t *testing.T) {
	d, err := steganalysis.Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		img    image.Image
		side   int // RichModelMaxSide
		region AnalysedRegion
	}{
		{"RGB", dropAlpha(richTestImage(300, 200, 255)), 0, AnalysedRegion{0, 0, 300, 200}},
		{"RGBA, opaque", richTestImage(300, 200, 255), 0, AnalysedRegion{0, 0, 300, 200}},
		{"RGBA, translucent", richTestImage(300, 200, 128), 0, AnalysedRegion{0, 0, 300, 200}},
		{"RGB, region bounded to 128", dropAlpha(richTestImage(300, 200, 255)), 128, AnalysedRegion{86, 36, 128, 128}},
		{"gray", toGrayImage(richTestImage(200, 100, 255)), 0, AnalysedRegion{0, 0, 200, 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img, err := FromImage(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			a, err := AnalyzeImageWith(img, nil, AnalyzeOptions{RichModel: true, RichModelMaxSide: tc.side})
			if err != nil {
				t.Fatal(err)
			}
			rm := a.RichModel
			if rm == nil || rm.Verdict == RichModelSkipped {
				t.Fatalf("rich model %+v", rm)
			}
			if rm.Region != tc.region {
				t.Fatalf("region %+v, want %+v", rm.Region, tc.region)
			}
			// The same region through the standard image: straight
			// (non-premultiplied) samples, as the raster keeps them.
			ref := img.Image()
			r := image.Rect(tc.region.X, tc.region.Y, tc.region.X+tc.region.Width, tc.region.Y+tc.region.Height)
			want, err := d.DetectSamples(refSamples(ref, r, img.Channels()))
			if err != nil {
				t.Fatal(err)
			}
			if rm.Score != want.Score || rm.Gray != (img.Channels() == 1) {
				t.Fatalf("score %v gray %v, want %v gray %v", rm.Score, rm.Gray, want.Score, img.Channels() == 1)
			}
			if len(a.FlaggedBy) > 0 && a.FlaggedBy[len(a.FlaggedBy)-1] == "rich-model" != (rm.Verdict == "stego") || a.Summary == "" {
				t.Fatalf("flagged_by %v, summary %q, verdict %s", a.FlaggedBy, a.Summary, rm.Verdict)
			}
		})
	}
}

// TestRichModelOptional: the rich model is an option of AnalyzeImageWith. Without it
// the analysis is exactly AnalyzeImage's (no rich_model), and a caller's
// skip reason is reported as given.
func TestRichModelOptional(t *testing.T) {
	img, err := FromImage(richTestImage(64, 64, 255))
	if err != nil {
		t.Fatal(err)
	}
	a, err := AnalyzeImageWith(img, nil, AnalyzeOptions{})
	if err != nil || a.RichModel != nil || a.FlaggedBy == nil || a.Summary == "" {
		t.Fatalf("without the rich model: %v %+v", err, a)
	}
	if plain, err := AnalyzeImage(img, nil); err != nil || !reflect.DeepEqual(plain, a) {
		t.Fatalf("AnalyzeImageWith without options differs from AnalyzeImage: %+v vs %+v (%v)", a, plain, err)
	}
	if strings.Contains(a.Summary, "rich") {
		t.Fatalf("summary %q mentions the rich model, which did not run", a.Summary)
	}
	a, err = AnalyzeImageWith(img, nil, AnalyzeOptions{RichModel: true, RichModelSkip: "no memory"})
	if err != nil || a.RichModel == nil || a.RichModel.Verdict != RichModelSkipped || a.RichModel.Skipped != "no memory" {
		t.Fatalf("skipped: %v %+v", err, a.RichModel)
	}
	if _, err := AnalyzeImageWith(nil, nil, AnalyzeOptions{RichModel: true}); err == nil {
		t.Fatal("nil image accepted")
	}
	if c := img.RichModelCost(0); c < 64*64*98 {
		t.Fatalf("RichModelCost %d for 64×64 RGB", c)
	}
	if side := img.RichModelSideFor(1 << 30); side != steganalysis.MaxAnalysedSide {
		t.Fatalf("with ample memory the side bound is %d, want %d", side, steganalysis.MaxAnalysedSide)
	}
	if side := img.RichModelSideFor(1 << 10); side != 0 {
		t.Fatalf("with 1 KB the side bound is %d, want 0 (skip)", side)
	}
}

func dropAlpha(m *image.NRGBA) image.Image {
	out := image.NewRGBA(m.Rect)
	for i := 0; i < len(m.Pix); i += 4 {
		copy(out.Pix[i:i+3], m.Pix[i:i+3])
		out.Pix[i+3] = 255
	}
	return out
}

func toGrayImage(m *image.NRGBA) image.Image {
	g := image.NewGray(m.Rect)
	for i := range g.Pix {
		g.Pix[i] = m.Pix[4*i+1]
	}
	return g
}

// refSamples reads region r of img as the detector's samples, through
// the colour model's straight (non-premultiplied) values.
func refSamples(img image.Image, r image.Rectangle, ch int) steganalysis.Samples {
	s := steganalysis.Samples{Width: r.Dx(), Height: r.Dy(), Channels: ch}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			switch c := img.At(x, y).(type) {
			case color.Gray:
				s.Pix = append(s.Pix, c.Y)
			default:
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				if ch == 1 {
					s.Pix = append(s.Pix, n.G)
				} else {
					s.Pix = append(s.Pix, n.R, n.G, n.B)
				}
			}
		}
	}
	return s
}
