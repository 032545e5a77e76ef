package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

type result struct {
	code           int
	stdout, stderr string
}

func stegoctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestEmbedExtractRoundTrip(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "plan.txt")
	secret := []byte(strings.Repeat("meet at the old mill at dawn\n", 50))
	if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("open sesame\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stegoPath := filepath.Join(dir, "out.png")
	r := stegoctl(t, "", "embed", "--cover", smallCover, "--secret", secretPath, "--password-file", pwFile, "--depth", "2", "-o", stegoPath)
	if r.code != exitOK {
		t.Fatalf("embed exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "hid 1450 bytes") {
		t.Errorf("embed summary missing: %q", r.stderr)
	}

	outDir := filepath.Join(dir, "recovered")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r = stegoctl(t, "", "extract", "-i", stegoPath, "--password-file", pwFile, "-o", outDir)
	if r.code != exitOK {
		t.Fatalf("extract exit %d: %s", r.code, r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(outDir, "plan.txt"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("recovered file differs or is missing under its stored name: %v", err)
	}

	// The password also comes from the environment, and a wrong one fails
	// with exit 1 and the same message as a clean image.
	t.Setenv("STEGO_PASSWORD", "wrong")
	r = stegoctl(t, "", "extract", "-i", stegoPath, "-o", "-")
	if r.code != exitFail || !strings.Contains(r.stderr, "no hidden data") {
		t.Fatalf("wrong password: exit %d, stderr %q", r.code, r.stderr)
	}
	t.Setenv("STEGO_PASSWORD", "open sesame")
	r = stegoctl(t, "", "extract", "-i", stegoPath, "-o", "-")
	if r.code != exitOK || r.stdout != string(secret) {
		t.Fatalf("extract to stdout with STEGO_PASSWORD: exit %d, %d bytes", r.code, len(r.stdout))
	}
}

func TestEmbedFromStdinToBMP(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.bmp")
	r := stegoctl(t, "hello from stdin", "embed", "--cover", smallCover, "--secret", "-", "--name", "hello.txt", "-o", out)
	if r.code != exitOK {
		t.Fatalf("embed exit %d: %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(out)
	if !bytes.HasPrefix(data, []byte("BM")) {
		t.Fatalf("output is not a BMP")
	}
	r = stegoctl(t, "", "extract", "-i", out, "-o", "-")
	if r.code != exitOK || r.stdout != "hello from stdin" {
		t.Fatalf("extract from BMP: exit %d, %q", r.code, r.stdout)
	}
}

func TestCapacityJSON(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	r := stegoctl(t, "", "capacity", "--cover", smallCover, "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got capacityReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	// 640×426 RGB (the file has 426 rows) at depth 1: (640·426·3 − 360)/8 − 18.
	if want := (640*426*3-360)/8 - 18; got.CapacityBytes != want || got.Width != 640 || got.Height != 426 || got.Channels != 3 || got.LSBPerChannel != 1 {
		t.Fatalf("capacity report %+v, want capacity_bytes %d", got, want)
	}
}

func TestAnalyzeJSON(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	r := stegoctl(t, "", "analyze", smallCover, "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"chi_square", "rs", "spa", "suspicious"} {
		if _, ok := got[key]; !ok {
			t.Errorf("analysis JSON lacks %q", key)
		}
	}
	if got["suspicious"] != false {
		t.Errorf("a clean photograph was judged suspicious: %v", got["reasons"])
	}
}

func TestExitCodes(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "Usage"},
		{"help", []string{"--help"}, exitOK, "Commands"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"embed help", []string{"embed", "--help"}, exitOK, "Examples"},
		{"embed missing flags", []string{"embed", "--cover", smallCover}, exitUsage, "required"},
		{"bad depth", []string{"capacity", "--cover", smallCover, "--depth", "9"}, exitUsage, "depth"},
		{"unknown flag", []string{"extract", "--password", "x"}, exitUsage, "not defined"},
		{"not an image", []string{"capacity", "--cover", "offline_test.go"}, exitFail, "unsupported image format"},
		{"missing file", []string{"analyze", "/nonexistent.png"}, exitFail, "no such file"},
		{"clean image", []string{"extract", "-i", smallCover, "-o", "-"}, exitFail, "no hidden data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := stegoctl(t, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want it to mention %q)", r.code, tc.code, r.stderr, tc.want)
			}
		})
	}
}

// TestCapacityIsWhatEmbedTakes: capacity's figure for a secret's name
// (and type) is exactly what embed takes with that name: a file of that
// many random bytes embeds, one byte more fails saying by how much.
func TestCapacityIsWhatEmbedTakes(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	cases := []struct {
		name  string
		file  string   // the secret's file name
		flags []string // given to both capacity and embed
		depth string
	}{
		{"name", "cap.bin", nil, "1"},
		{"name at depth 2", "cap.bin", nil, "2"},
		{"name and type", "cap.bin", []string{"--mime", "application/x-stego-test"}, "1"},
		{"stored name", "cap.bin", []string{"--name", "a-longer-stored-name.pdf"}, "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			secretPath := filepath.Join(dir, tc.file)
			// Ask with the name alone first (the flags, else the file's
			// name), as a user deciding what to send would.
			nameFlags := tc.flags
			if !slices.Contains(tc.flags, "--name") {
				nameFlags = append([]string{"--name", tc.file}, tc.flags...)
			}
			r := stegoctl(t, "", append([]string{"capacity", "--cover", smallCover, "--depth", tc.depth, "--json"}, nameFlags...)...)
			var rep capacityReport
			// (Whether .bin has a type depends on the system's MIME table;
			// either way random bytes are stored as application/octet-stream.)
			if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &rep) != nil {
				t.Fatalf("capacity: exit %d, %q, %s", r.code, r.stdout, r.stderr)
			}
			n := rep.CapacityBytes

			for _, size := range []int{n, n + 1} {
				// Random bytes are incompressible: they cannot fit by compressing.
				if err := os.WriteFile(secretPath, testenv.RandomBytes(size, uint64(size)), 0o600); err != nil {
					t.Fatal(err)
				}
				// capacity --secret agrees and says whether it fits.
				r = stegoctl(t, "", append([]string{"capacity", "--cover", smallCover, "--depth", tc.depth, "--json", "--secret", secretPath}, tc.flags...)...)
				var withFile capacityReport
				if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &withFile) != nil ||
					withFile.CapacityBytes != n || withFile.Fits == nil || *withFile.Fits != (size == n) {
					t.Fatalf("capacity --secret of %d bytes: exit %d, %q, %s", size, r.code, r.stdout, r.stderr)
				}
				r = stegoctl(t, "", append([]string{"embed", "--cover", smallCover, "--depth", tc.depth, "--secret", secretPath, "-o", filepath.Join(dir, "out.png")}, tc.flags...)...)
				switch {
				case size == n && r.code != exitOK:
					t.Fatalf("embed of exactly %d bytes: exit %d, %s", n, r.code, r.stderr)
				case size > n && (r.code != exitFail || !strings.Contains(r.stderr, fmt.Sprintf("needs %d bytes, cover holds %d", n+1, n))):
					t.Fatalf("embed of %d bytes: exit %d, %q; want a failure needing %d of %d", size, r.code, r.stderr, n+1, n)
				}
			}
		})
	}
}

// TestCapacitySaysWhatItAssumes: without a name the figure is for none,
// and the human output says so; with the secret it says whether it fits.
func TestCapacitySaysWhatItAssumes(t *testing.T) {
	smallCover := testenv.CoverPath(t, testenv.CoverSmallPNG)
	secretPath := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(secretPath, testenv.RandomBytes(200000, 1), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		want    []string
		assumes bool // an "assumes" line is printed
	}{
		{"nothing", nil, []string{"102177 bytes (640x426", "assumes a secret with no file name"}, true},
		{"untyped name", []string{"--name", "notes"}, []string{`102148 bytes for "notes" (application/octet-stream)`, "assumes the MIME type"}, true},
		{"typed name", []string{"--name", "notes.json"}, []string{`102151 bytes for "notes.json" (application/json)`}, false},
		{"secret", []string{"--secret", secretPath}, []string{`for "big.bin"`, "secret: 200000 bytes, does not fit"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := stegoctl(t, "", append([]string{"capacity", "--cover", smallCover}, tc.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output %q lacks %q", r.stdout, w)
				}
			}
			if got := strings.Contains(r.stdout, "\nassumes "); got != tc.assumes {
				t.Errorf("output %q: assumes line present = %t, want %t", r.stdout, got, tc.assumes)
			}
		})
	}
}
