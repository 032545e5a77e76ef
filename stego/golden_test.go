package stego

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"strconv"
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
		// Version 3: the salt at public positions, every other position
		// keyed by the salted master key.
		{"testdata/golden-v3-keyed-password.png", Options{Password: "golden password v3"},
			Secret{Name: "golden.txt", MIME: "text/plain; charset=utf-8", Data: text}},
		{"testdata/golden-v3-keyed-public.png", Options{},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(500, 45)}},
		{"testdata/golden-v3-sequential-password.png", Options{Password: "golden password v3 sequential", Depth: 2, Mode: ModeSequential, DisableCompression: true},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(700, 46)}},
		{"testdata/golden-v3-adaptive-password.png", Options{Password: "golden password v3 adaptive", Mode: ModeAdaptive, DisableCompression: true},
			Secret{Name: "golden.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(600, 47)}},
	}
}

// version is the container version in the golden's file name.
func (g golden) version() byte {
	v, _, _ := strings.Cut(strings.TrimPrefix(g.file, "testdata/golden-v"), "-")
	n, err := strconv.Atoi(v)
	if err != nil {
		panic("golden file name without a version: " + g.file)
	}
	return byte(n)
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
			if _, h, _, _, err := openContainer(ctx, img.r, g.opts.Password); err != nil || h.mode != g.opts.Mode || h.version != g.version() {
				t.Fatalf("golden header %+v, %v: want mode %s, version %d", h, err, g.opts.Mode, g.version())
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
		_, h, _, _, err := openContainer(context.Background(), out.r, password)
		if err != nil || h.version != formatVersion {
			t.Fatalf("password %q: header version %d, %v; want %d", password, h.version, err, formatVersion)
		}
		// The older versions' layout, keyed by the password alone, finds
		// no header: the positions of a new image need its salt.
		seed, err := legacyPositionSeed(password)
		if err != nil {
			t.Fatal(err)
		}
		raw := newKernel(out.r, legacyUnitOrder(out.r.dataSamples()/unitSize, seed)).readHeader()
		for v := byte(legacyVersion); v >= 1; v-- {
			master, err := masterKey(password, raw[:saltSize], v)
			if err != nil {
				t.Fatal(err)
			}
			old, err := newAEAD(master)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.Open(nil, nonce(0), raw[saltSize:], []byte(aadHeader)); err == nil {
				t.Errorf("password %q: version %d's layout and key open a new image's header", password, v)
			}
		}
	}
}
