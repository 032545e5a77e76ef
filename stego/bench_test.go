package stego

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// benchSecretSize matches the comparison: 100 KB into a
// 1920-pixel-wide photograph.
const benchSecretSize = 100 * 1024

// BenchmarkEmbedEndToEnd is what a user waits for: decode the cover,
// embed, encode the PNG.
func BenchmarkEmbedEndToEnd(b *testing.B) {
	coverPNG := testenv.Cover(b, testenv.CoverLargePNG)
	secret := Secret{Name: "secret.bin", Data: testenv.RandomBytes(benchSecretSize, 1)}
	ctx := context.Background()
	b.SetBytes(int64(len(coverPNG)))
	for b.Loop() {
		cover, err := Decode(coverPNG, 0)
		if err != nil {
			b.Fatal(err)
		}
		out, _, err := Embed(ctx, cover, secret, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := out.Encode(io.Discard, PNG); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHideBuiltinCover is a hide into the API's built-in cover (a
// 960x640 PNG, decoded once at start-up): copy, embed 100 KB, encode.
func BenchmarkHideBuiltinCover(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(b), "api", "assets", "cover.png"))
	if err != nil {
		b.Fatal(err)
	}
	cover, err := Decode(data, 0)
	if err != nil {
		b.Fatal(err)
	}
	secret := Secret{Name: "secret.bin", Data: testenv.RandomBytes(benchSecretSize, 1)}
	ctx := context.Background()
	for b.Loop() {
		out, _, err := Embed(ctx, cover, secret, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := out.Encode(io.Discard, PNG); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractEndToEnd: decode the stego PNG and extract.
func BenchmarkExtractEndToEnd(b *testing.B) {
	stegoPNG := embedForBench(b)
	ctx := context.Background()
	b.SetBytes(int64(len(stegoPNG)))
	for b.Loop() {
		img, err := Decode(stegoPNG, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Extract(ctx, img, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmbedKernel measures embedding alone (no image I/O) and
// reports cover megapixels per second; -cpu 1 gives the per-core figure.
func BenchmarkEmbedKernel(b *testing.B) {
	cover, err := Decode(testenv.Cover(b, testenv.CoverLargePNG), 0)
	if err != nil {
		b.Fatal(err)
	}
	secret := Secret{Data: testenv.RandomBytes(benchSecretSize, 1)}
	ctx := context.Background()
	for b.Loop() {
		if _, _, err := Embed(ctx, cover, secret, Options{DisableCompression: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportMegapixels(b, cover)
}

// BenchmarkExtractKernel measures extraction alone.
func BenchmarkExtractKernel(b *testing.B) {
	img, err := Decode(embedForBench(b), 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := Extract(ctx, img, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	reportMegapixels(b, img)
}

func BenchmarkCapacity(b *testing.B) {
	coverPNG := testenv.Cover(b, testenv.CoverLargePNG)
	for b.Loop() {
		cover, err := Decode(coverPNG, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Capacity(cover, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func embedForBench(b *testing.B) []byte {
	b.Helper()
	cover, err := Decode(testenv.Cover(b, testenv.CoverLargePNG), 0)
	if err != nil {
		b.Fatal(err)
	}
	out, _, err := Embed(context.Background(), cover, Secret{Data: testenv.RandomBytes(benchSecretSize, 1)}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := out.Encode(&buf, PNG); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func reportMegapixels(b *testing.B, m *Image) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	mp := float64(m.Width()*m.Height()) / 1e6
	// Per core: run with -cpu 1 (the kernel is memory-bound and two
	// hyperthreads of one core scale poorly, so dividing a -cpu 2 figure
	// by two would understate one core's speed).
	b.ReportMetric(mp/perOp, "MP/s")
}

// BenchmarkExtractWithPassword is what a password costs an extract, on
// the small golden images (so the key derivation dominates): an image of
// the current version (Argon2id, 3 passes), one of version 2 (version 3's
// derivation is tried first), one of version 1 (versions 3 and 2 first,
// then its own single pass), and a wrong password (every version's
// derivation, then ErrNoHiddenData).
func BenchmarkExtractWithPassword(b *testing.B) {
	for _, bc := range []struct {
		name, file, password string
		want                 error
	}{
		{"v3", "testdata/golden-v3-keyed-password.png", "golden password v3", nil},
		{"v2", "testdata/golden-v2-keyed-password.png", "golden password v2", nil},
		{"v1", "testdata/golden-v1-keyed-password.png", "golden password v1", nil},
		{"wrong-password", "testdata/golden-v3-keyed-password.png", "not the password", ErrNoHiddenData},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data, err := os.ReadFile(bc.file)
			if err != nil {
				b.Fatal(err)
			}
			img, err := Decode(data, 0)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := Extract(context.Background(), img, Options{Password: bc.password}); !errors.Is(err, bc.want) {
					b.Fatalf("extract: %v, want %v", err, bc.want)
				}
			}
		})
	}
}
