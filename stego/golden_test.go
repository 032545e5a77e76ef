package stego

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// The golden images were made once, each with the container version in
// its name, and are committed. Every later version must still extract
// them: a user's old stego image is data we promised to give back. Write
// them only when adding goldens for a new version (existing files are
// never rewritten), never to make this test pass:
//
//	go test ./stego -run TestGolden -write-golden
var writeGolden = flag.Bool("write-golden", false, "write the golden stego images (never overwrite an existing version's)")

type golden struct {
	file   string
	opts   Options
	secret Secret
}

func goldens() []golden {
	text := bytes.Repeat([]byte("stegocluster container v1 golden image. "), 20)
	return []golden{
		{"testdata/golden-v1-keyed-password.png", Options{Password: "golden password v1"},
			Secret{Name: "golden.txt", MIME: "text/plain; charset=utf-8", Data: text}},
		{"testdata/golden-v1-sequential-depth2.png", Options{Depth: 2, Mode: ModeSequential, DisableCompression: true},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(700, 42)}},
		// Version 2: Argon2id with 3 passes.
		{"testdata/golden-v2-keyed-password.png", Options{Password: "golden password v2"},
			Secret{Name: "golden.txt", MIME: "text/plain; charset=utf-8", Data: text}},
		{"testdata/golden-v2-keyed-public.png", Options{},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(500, 43)}},
		// Version 2, adaptive mode: the same header and sealing, the body
		// in a syndrome-trellis code (h = 7) over HILL costs.
		{"testdata/golden-v2-adaptive-password.png", Options{Password: "golden password adaptive", Mode: ModeAdaptive, DisableCompression: true},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(600, 44)}},
		{"testdata/golden-v2-adaptive-public.png", Options{Mode: ModeAdaptive},
			Secret{Name: "golden.txt", MIME: "text/plain; charset=utf-8", Data: bytes.Repeat([]byte("adaptive golden. "), 40)}},
	}
}

func TestGoldenImagesStillExtract(t *testing.T) {
	ctx := context.Background()
	for _, g := range goldens() {
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
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Fatalf("golden is not a valid PNG for image/png: %v", err)
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
				t.Fatalf("golden extracted as %q %q %d bytes, want %q %q %d bytes", got.Name, got.MIME, len(got.Data), g.secret.Name, g.secret.MIME, len(g.secret.Data))
			}
			// The mode it was written in is the mode it is read in.
			seed, _ := positionSeed(g.opts.Password)
			if h, _, _, err := openHeader(g.opts.Password, newKernel(img.r, seed).readHeader()); err != nil || h.mode != g.opts.Mode {
				t.Fatalf("golden header %+v, %v: want mode %s", h, err, g.opts.Mode)
			}
		})
	}
}

func writeGoldenImage(t *testing.T, g golden) {
	t.Helper()
	if _, err := os.Stat(g.file); err == nil {
		t.Logf("%s exists: kept (goldens are never rewritten)", g.file)
		return
	}
	photo := photoCrop(t, 120, 90)
	cover, err := FromImage(photo.SubImage(image.Rect(0, 0, 120, 90)))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Embed(context.Background(), cover, g.secret, g.opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := out.Encode(&buf, PNG); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(g.file, ".png")+".secret", g.secret.Data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNewImagesAreTheCurrentVersion: what Embed writes is sealed under
// the current version's key derivation and says so in its header, and
// an older version's derivation does not open it.
func TestNewImagesAreTheCurrentVersion(t *testing.T) {
	for _, password := range []string{"", "a password"} {
		cover, err := FromImage(photoCrop(t, 120, 90))
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := Embed(context.Background(), cover, Secret{Name: "v.txt", Data: []byte("version")}, Options{Password: password})
		if err != nil {
			t.Fatal(err)
		}
		seed, err := positionSeed(password)
		if err != nil {
			t.Fatal(err)
		}
		raw := newKernel(out.r, seed).readHeader()
		h, _, _, err := openHeader(password, raw)
		if err != nil || h.version != formatVersion {
			t.Fatalf("password %q: header version %d, %v; want %d", password, h.version, err, formatVersion)
		}
		if password == "" {
			continue
		}
		old, err := newAEAD(password, raw[:saltSize], 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Open(nil, nonce(0), raw[saltSize:], []byte(aadHeader)); err == nil {
			t.Error("version 1's key derivation opens a new image's header")
		}
	}
}
