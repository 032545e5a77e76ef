package stego

import (
	"context"
	"fmt"
	"testing"
)

// TestEmbedderStaysBelowDetectors is the product's stealth claim, tested
// with the real embedder on real photographs: default mode at up to 0.2
// bits per channel stays inside the spread the detectors show on clean
// covers, while sequential LSB replacement at the same rate — the control
// that proves the detectors work — is flagged.
func TestEmbedderStaysBelowDetectors(t *testing.T) {
	ctx := context.Background()
	covers := saCleanCovers(t)
	clean, st := saAnalyzeClean(t, covers)
	for i, c := range covers {
		if c.r.width*c.r.height < 500*500 {
			continue // too small for the control to be caught (see analysis.go)
		}
		for _, rate := range []float64{0.05, 0.2} {
			// The payload's share of the cover, sealed overhead included.
			size := int(rate*float64(c.r.dataSamples())/8) - headerSize - metaFixedSize - tagSize
			secret := Secret{Data: randomBytes(size, uint64(i))}
			name := fmt.Sprintf("%s@%.2f", c.name, rate)

			keyed, stats, err := Embed(ctx, &Image{r: c.r}, secret, Options{Password: "p", DisableCompression: true})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			a, err := analyzeRaster(keyed.r, c.r)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("keyed      %-40s k=%d changed %.4f  %s PSNR %.1f dB", name, stats.MatrixK, a.Distortion.ChangedFraction, saSummary(a), a.Distortion.PSNR)
			if a.Suspicious {
				t.Errorf("%s: default mode flagged: %v", name, a.Reasons)
			}
			saCheckInside(t, "keyed "+name, a, clean[i], st)

			if rate < 0.2 {
				continue
			}
			seq, _, err := Embed(ctx, &Image{r: c.r}, secret, Options{Password: "p", Mode: ModeSequential, DisableCompression: true})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			a, err = analyzeRaster(seq.r, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("sequential %-40s %s", name, saSummary(a))
			if !a.Suspicious {
				t.Errorf("%s: sequential LSB replacement not flagged — the detectors prove nothing", name)
			}
		}
	}
}
