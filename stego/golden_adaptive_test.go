package stego

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// adaptiveGoldens pin adaptive mode's body coding (passes, segments,
// trellis columns) the way goldens() pins the other modes: made once
// (go test ./stego -run TestAdaptiveGolden -write-golden), committed,
// never rewritten; every later release must extract them.
func adaptiveGoldens() []golden {
	return []golden{
		{"testdata/golden-v2-adaptive-password.png", Options{Password: "golden password adaptive", Mode: ModeAdaptive, DisableCompression: true},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(600, 44)}},
		{"testdata/golden-v2-adaptive-public.png", Options{Mode: ModeAdaptive},
			Secret{Name: "golden.txt", MIME: "text/plain; charset=utf-8", Data: bytes.Repeat([]byte("adaptive golden. "), 40)}},
	}
}

func TestAdaptiveGoldenImagesStillExtract(t *testing.T) {
	ctx := context.Background()
	for _, g := range adaptiveGoldens() {
		t.Run(g.file, func(t *testing.T) {
			if *writeGolden {
				writeGoldenImage(t, g)
			}
			data, err := os.ReadFile(g.file)
			if err != nil {
				t.Fatalf("golden image missing: %v", err)
			}
			img, err := Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(g.file, ".png") + ".secret")
			if err != nil || !bytes.Equal(want, g.secret.Data) {
				t.Fatalf("golden secret file missing or different from the test's: %v", err)
			}
			got, err := Extract(ctx, img, Options{Password: g.opts.Password})
			if err != nil {
				t.Fatalf("extract golden: %v", err)
			}
			if got.Name != g.secret.Name || got.MIME != g.secret.MIME || !bytes.Equal(got.Data, g.secret.Data) {
				t.Fatalf("golden extracted as %q %q %d bytes", got.Name, got.MIME, len(got.Data))
			}
			seed, _ := positionSeed(g.opts.Password)
			h, _, _, err := openHeader(g.opts.Password, newKernel(img.r, seed).readHeader())
			if err != nil || h.mode != ModeAdaptive || h.k != stcHeight {
				t.Fatalf("golden header %+v, %v: want adaptive, h = %d", h, err, stcHeight)
			}
		})
	}
}
