package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestAnalyzeRichModel runs stegoctl analyze on a photograph the shipped
// rich model never saw and on the same photo after stegoctl embed hid a
// heavy payload (about 0.5 bits per channel) in it. The rich model runs
// by default: text and JSON carry its score and verdict next to the
// classic tests, and the text line gives its false-alarm rate; with
// --rich-model=false neither mentions it.
func TestAnalyzeRichModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the rich-model detector")
	}
	cover := filepath.Join("..", "..", "testdata", "photos", "bottles-half.png") // 512×1024, held out of training
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.bin")
	// 0.5 bits per channel of 512·1024·3 samples, incompressible.
	data := make([]byte, 512*1024*3/16-63)
	x := uint32(2463534242)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x)
	}
	if err := os.WriteFile(secret, data, 0o600); err != nil {
		t.Fatal(err)
	}
	stegoPath := filepath.Join(dir, "bottles.stego.png")
	if r := stegoctl(t, "", "embed", "--cover", cover, "--secret", secret, "-o", stegoPath); r.code != exitOK {
		t.Fatalf("embed exit %d: %s", r.code, r.stderr)
	}
	cases := []struct {
		name     string
		args     []string
		verdict  string // rich model verdict in the output; "" for none
		flagged  bool
		headline string
	}{
		{"cover, text", []string{"analyze", cover}, "cover", false, "no sign of LSB embedding"},
		{"stego, text", []string{"analyze", stegoPath}, "stego", true, "SUSPICIOUS (rich model only: worth a closer look, not proof)"},
		{"stego with cover, text", []string{"analyze", stegoPath, "--cover", cover}, "stego", true, "SUSPICIOUS (rich model only: worth a closer look, not proof)"},
		{"cover, json", []string{"analyze", cover, "--json"}, "cover", false, ""},
		{"stego, json, --rich-model", []string{"analyze", stegoPath, "--json", "--rich-model"}, "stego", true, ""},
		{"stego, classic only, text", []string{"analyze", stegoPath, "--rich-model=false"}, "", false, "no sign of LSB embedding"},
		{"stego, classic only, json", []string{"analyze", stegoPath, "--json", "--rich-model=false"}, "", false, ""},
	}
	richLine := regexp.MustCompile(`(?m)^  rich model    \(false alarms on about 26% of clean photos\) score (0\.\d\d|1\.00) \(stego above 0\.50\): (cover|stego), on 512x1024 at \(0,0\)$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := stegoctl(t, "", tc.args...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(strings.Join(tc.args, " "), "--json") {
				t.Logf("output:\n%s", r.stdout)
				if tc.verdict == "" {
					if strings.Contains(r.stdout, "rich model") {
						t.Fatalf("the rich model ran with --rich-model=false:\n%s", r.stdout)
					}
				} else if m := richLine.FindStringSubmatch(r.stdout); m == nil || m[2] != tc.verdict {
					t.Fatalf("no rich-model line with verdict %s in:\n%s", tc.verdict, r.stdout)
				}
				if !strings.Contains(strings.SplitN(r.stdout, "\n", 2)[0], "— "+tc.headline) {
					t.Errorf("headline lacks %q:\n%s", tc.headline, r.stdout)
				}
				if !strings.Contains(r.stdout, "\n  summary       ") || !strings.Contains(r.stdout, "\n  chi-square    ") {
					t.Errorf("summary or classic lines missing:\n%s", r.stdout)
				}
				return
			}
			var got struct {
				Suspicious bool     `json:"suspicious"`
				FlaggedBy  []string `json:"flagged_by"`
				Summary    string   `json:"summary"`
				RichModel  *struct {
					Score   float64 `json:"score"`
					Verdict string  `json:"verdict"`
				} `json:"rich_model"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatal(err)
			}
			if tc.verdict == "" {
				if got.RichModel != nil || strings.Contains(r.stdout, "rich_model") || strings.Contains(r.stdout, "rich model") {
					t.Fatalf("the rich model ran with --rich-model=false: %s", r.stdout)
				}
				return
			}
			if got.RichModel == nil || got.RichModel.Verdict != tc.verdict {
				t.Fatalf("rich_model %+v, want verdict %s", got.RichModel, tc.verdict)
			}
			hasRich := false
			for _, f := range got.FlaggedBy {
				hasRich = hasRich || f == "rich-model"
			}
			if hasRich != tc.flagged || got.Summary == "" {
				t.Fatalf("flagged_by %v, summary %q", got.FlaggedBy, got.Summary)
			}
		})
	}
}

// TestAnalyzeNoClassicFlag: there is no --classic; --rich-model=false
// is how the classic tests are run alone.
func TestAnalyzeNoClassicFlag(t *testing.T) {
	cover := filepath.Join("..", "..", "testdata", "photos", "bottles-half.png")
	if r := stegoctl(t, "", "analyze", cover, "--classic"); r.code != exitUsage {
		t.Fatalf("--classic: exit %d, want %d (usage):\n%s", r.code, exitUsage, r.stdout)
	}
}

// TestAnalyzeReportsAFailedWrite: a report that cannot be written (a full
// disk, a closed pipe) is a failure, as text and as JSON alike.
func TestAnalyzeReportsAFailedWrite(t *testing.T) {
	img := filepath.Join("..", "..", "testdata", "photos", "bottles-half.png")
	for _, args := range [][]string{{"analyze", img, "--rich-model=false"}, {"analyze", img, "--rich-model=false", "--json"}} {
		var stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), fullDisk{}, &stderr); code != exitFail || !strings.Contains(stderr.String(), "no space") {
			t.Errorf("%v to a full disk: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// fullDisk fails every write, as /dev/full does.
type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) { return 0, syscall.ENOSPC }
