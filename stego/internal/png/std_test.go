package png

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"slices"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// TestStd checks Std for every shape: the standard library type it
// returns, every sample (gray+alpha spread over equal colour channels,
// missing alpha fully opaque), that it shares no memory with the Image,
// and that image/png writes it as a file Decode reads back unchanged.
func TestStd(t *testing.T) {
	wantType := map[string]string{
		"gray8":       "*image.Gray",
		"grayalpha8":  "*image.NRGBA",
		"rgb8":        "*image.NRGBA",
		"rgba8":       "*image.NRGBA",
		"gray16":      "*image.Gray16",
		"grayalpha16": "*image.NRGBA64",
		"rgb16":       "*image.NRGBA64",
		"rgba16":      "*image.NRGBA64",
	}
	for i, s := range testenv.Shapes {
		t.Run(s.Name, func(t *testing.T) {
			m := pngTestRaster(s, 7, 5, "noise", int64(i))
			std := m.Std()
			if got := fmt.Sprintf("%T", std); got != wantType[s.Name] {
				t.Fatalf("type %s, want %s", got, wantType[s.Name])
			}
			if b := std.Bounds(); b != image.Rect(0, 0, m.Width, m.Height) {
				t.Fatalf("bounds %v", b)
			}
			want := stdTestWant(m)
			got := stdTestSamples(std)
			if len(got) != len(want) {
				t.Fatalf("%d samples, want %d", len(got), len(want))
			}
			for k := range got {
				if got[k] != want[k] {
					t.Fatalf("sample %d is %d, want %d", k, got[k], want[k])
				}
			}
			for k := range m.Pix {
				m.Pix[k] = ^m.Pix[k]
			}
			if !slices.Equal(stdTestSamples(std), want) {
				t.Fatal("Std shares memory with the Image")
			}
			for k := range m.Pix {
				m.Pix[k] = ^m.Pix[k]
			}

			var buf bytes.Buffer
			if err := png.Encode(&buf, std); err != nil {
				t.Fatal(err)
			}
			back, err := Decode(buf.Bytes(), pngTestMaxPixels)
			if err != nil {
				t.Fatal(err)
			}
			if s.Channels == 1 && s.Alpha { // image/png has no gray+alpha output
				m = pngTestToRGBA(m)
			}
			if back.Channels != m.Channels || back.Alpha != m.Alpha || back.Depth16 != m.Depth16 {
				t.Fatalf("round trip gave channels=%d alpha=%t 16=%t", back.Channels, back.Alpha, back.Depth16)
			}
			if k := pngFirstDiff(back.Pix, m.Pix); k >= 0 {
				t.Fatalf("round trip differs at byte %d", k)
			}
		})
	}
}

// stdTestWant is what Std must hold for m, pixel by pixel: the gray
// value, or R, G, B and A, each as a 0–65535 or 0–255 sample.
func stdTestWant(m *Image) []uint32 {
	spp, bps := samplesPerPixel(m), bytesPerSample(m)
	sample := func(b []byte) uint32 {
		if bps == 2 {
			return uint32(b[0])<<8 | uint32(b[1])
		}
		return uint32(b[0])
	}
	var out []uint32
	for i := 0; i < m.Width*m.Height; i++ {
		p := m.Pix[i*spp*bps : (i+1)*spp*bps]
		if m.Channels == 1 && !m.Alpha {
			out = append(out, sample(p))
			continue
		}
		for c := 0; c < 3; c++ {
			out = append(out, sample(p[min(c, m.Channels-1)*bps:]))
		}
		a := uint32(1<<(8*bps) - 1)
		if m.Alpha {
			a = sample(p[(spp-1)*bps:])
		}
		out = append(out, a)
	}
	return out
}

// stdTestSamples reads img's samples through its typed At methods, so
// that no premultiplication gets in the way.
func stdTestSamples(img image.Image) []uint32 {
	b := img.Bounds()
	var out []uint32
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			switch m := img.(type) {
			case *image.Gray:
				out = append(out, uint32(m.GrayAt(x, y).Y))
			case *image.Gray16:
				out = append(out, uint32(m.Gray16At(x, y).Y))
			case *image.NRGBA:
				c := m.NRGBAAt(x, y)
				out = append(out, uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A))
			case *image.NRGBA64:
				c := m.NRGBA64At(x, y)
				out = append(out, uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A))
			}
		}
	}
	return out
}
