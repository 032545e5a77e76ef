package stego

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

func TestStealthFor(t *testing.T) {
	rgb := &Image{r: newRaster(960, 640, 3, false, false), SourceFormat: "png"}
	samples := 960 * 640 * 3
	// At 0.0786 bits per channel, where the measured curve (0.44 at
	// 0.05, 0.37 at 0.1) crosses 0.4, container overhead and the 8-byte
	// name included.
	overhead := headerSize + metaFixedSize + tagSize + len("note.txt")
	stealthy := int((0.05+0.05*4/7)*float64(samples)/8) - overhead

	jpeg := &Image{r: rgb.r, SourceFormat: "jpeg"}
	webp := &Image{r: rgb.r, SourceFormat: "webp", lossyWebP: true}
	gray := &Image{r: newRaster(960, 640, 1, false, false), SourceFormat: "png"}
	public := &Image{r: rgb.r, SourceFormat: "png", Public: true}
	deep := &Image{r: newRaster(960, 640, 3, false, true), SourceFormat: "png"}

	tests := []struct {
		name      string
		cover     *Image
		opts      Options
		data      int
		stealthy  int // -1: no stealthy figure
		rating    string
		withPE    bool
		jpegCover bool
	}{
		{"size unknown", rgb, Options{}, -1, stealthy, "", false, false},
		{"at the stealthy figure", rgb, Options{}, stealthy, stealthy, RatingStealthy, true, false},
		{"one byte over", rgb, Options{}, stealthy + 1, stealthy, RatingDetectable, true, false},
		{"at 0.4 bpc", rgb, Options{}, samples/20/8*8 - overhead, stealthy, RatingDetectable, true, false},
		{"public cover", public, Options{}, 100, -1, RatingDetectable, false, false},
		{"adaptive mode", rgb, Options{Mode: ModeAdaptive}, -1, int((0.1+0.1*4/7)*float64(samples)/8) - overhead, "", false, false},
		{"jpeg cover", jpeg, Options{}, 100, -1, RatingDetectable, false, true},
		{"lossy webp cover", webp, Options{}, 100, -1, RatingDetectable, false, false},
		{"sequential mode", rgb, Options{Mode: ModeSequential}, 100, -1, RatingDetectable, false, false},
		{"depth 2", rgb, Options{Depth: 2}, 100, -1, RatingUnknown, false, false},
		{"gray", gray, Options{}, 100, -1, RatingUnknown, false, false},
		{"16-bit", deep, Options{}, 100, -1, RatingUnknown, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := StealthFor(tt.cover, tt.opts, "note.txt", "", tt.data)
			t.Logf("%+v: %s", st, st.Advice)
			switch {
			case tt.stealthy < 0 && st.StealthyBytes != nil:
				t.Errorf("stealthy figure %d, want none", *st.StealthyBytes)
			case tt.stealthy < 0 && st.NoStealthyReason == "":
				t.Error("no stealthy figure and no reason")
			case tt.stealthy >= 0 && (st.StealthyBytes == nil || *st.StealthyBytes != tt.stealthy):
				t.Errorf("stealthy figure %v, want %d", st.StealthyBytes, tt.stealthy)
			}
			if st.Rating != tt.rating {
				t.Errorf("rating %q, want %q", st.Rating, tt.rating)
			}
			if (st.DetectorPE != nil) != tt.withPE {
				t.Errorf("detector P_E %v, want one: %v", st.DetectorPE, tt.withPE)
			}
			if st.JPEGCover != tt.jpegCover {
				t.Errorf("jpeg_cover %v, want %v", st.JPEGCover, tt.jpegCover)
			}
			if st.Advice == "" || st.Basis == "" {
				t.Error("advice or basis empty")
			}
		})
	}
}

// TestStealthAdviceOfATinySecret: a few bytes in a photo are not "0.000
// bits per channel".
func TestStealthAdviceOfATinySecret(t *testing.T) {
	rgb := &Image{r: newRaster(1920, 1280, 3, false, false), SourceFormat: "png"}
	st := StealthFor(rgb, Options{}, "note.txt", "", 20)
	if !strings.HasPrefix(st.Advice, "Stealthy: under 0.001 bits per channel") {
		t.Errorf("advice for 20 bytes in 1920×1280: %s", st.Advice)
	}
}

// TestStealthFigureIsWhatEmbedReports checks the stealthy figure against
// the embedder's own accounting: a secret of exactly that size is at most
// the measured payload in Stats.BitsPerChannel, one byte more is over it.
func TestStealthFigureIsWhatEmbedReports(t *testing.T) {
	cover := &Image{r: newRaster(320, 200, 3, false, false), SourceFormat: "png"}
	st := StealthFor(cover, Options{}, "a.bin", "application/octet-stream", -1)
	if st.StealthyBytes == nil {
		t.Fatalf("no stealthy figure: %s", st.NoStealthyReason)
	}
	for _, extra := range []int{0, 1} {
		secret := Secret{Name: "a.bin", MIME: "application/octet-stream", Data: testenv.RandomBytes(*st.StealthyBytes+extra, 1)}
		_, stats, err := Embed(context.Background(), cover, secret, Options{DisableCompression: true})
		if err != nil {
			t.Fatal(err)
		}
		if within := stats.BitsPerChannel <= st.StealthyBitsPerChannel+1e-9; within != (extra == 0) {
			t.Errorf("%d bytes: embed reports %.5f bits per channel, stealthy limit %.5f", len(secret.Data), stats.BitsPerChannel, st.StealthyBitsPerChannel)
		}
	}
}

// TestStealthOfAJPEGSavedAsPNG: a cover whose file is a PNG but whose
// pixels are a decompressed JPEG gets no stealthy figure either.
func TestStealthOfAJPEGSavedAsPNG(t *testing.T) {
	data, err := os.ReadFile("../testdata/covers/street-1920x1280.jpg")
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	var png bytes.Buffer
	if err := decoded.Encode(&png, PNG); err != nil {
		t.Fatal(err)
	}
	asPNG, err := Decode(png.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	st := StealthFor(asPNG, Options{}, "", "", 1000)
	if asPNG.SourceFormat != "png" || !st.JPEGCover || st.StealthyBytes != nil || st.Rating != RatingDetectable {
		t.Fatalf("%s cover of JPEG pixels: %+v", asPNG.SourceFormat, st)
	}
}

func TestInterpolatePE(t *testing.T) {
	curve := measuredPE(ModeKeyed)
	tests := []struct{ bpc, want float64 }{
		{0, 0.5},
		{0.025, 0.47},
		{0.05, 0.44},
		{0.15, 0.305},
		{0.4, 0.06},
		{1.5, 0.06},
	}
	if got, want := stealthyBPC(curve), 0.05+0.05*4/7; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("stealthy payload %.5f bpc, want %.5f", got, want)
	}
	for _, tt := range tests {
		if got := interpolatePE(curve, tt.bpc); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("P_E at %.3f bpc = %.4f, want %.4f", tt.bpc, got, tt.want)
		}
	}
}

// TestStealthTableMatchesDocs keeps the figures the advice quotes equal to
// the measured tables in docs/stealth.md, which say how they were
// measured: keyed mode's column in "Results", adaptive mode's in
// "Adaptive mode".
func TestStealthTableMatchesDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/stealth.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode   Mode
		header func(cell string) bool
	}{
		{ModeKeyed, func(c string) bool { return strings.Contains(c, "(keyed mode)") }},
		{ModeAdaptive, func(c string) bool { return c == "adaptive mode" }},
	} {
		got := docsColumn(string(doc), tc.header)
		want := measuredPE(tc.mode)
		if !slices.Equal(got, want) {
			t.Errorf("%s mode: docs/stealth.md's column has %v, the code %v", tc.mode, got, want)
		}
	}
}

// docsColumn reads, from the first markdown table whose header starts
// with "payload" and has a cell header accepts, each row's payload and
// the first number in that column.
func docsColumn(doc string, header func(cell string) bool) []pePoint {
	column := -1
	var out []pePoint
	for line := range strings.Lines(doc) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "*")
		}
		if column < 0 {
			if strings.HasPrefix(cells[0], "payload") {
				column = slices.IndexFunc(cells, header)
			}
			continue
		}
		if len(cells) <= column {
			break // the table ended
		}
		bpc, err1 := strconv.ParseFloat(cells[0], 64)
		pe, err2 := strconv.ParseFloat(strings.Trim(strings.Fields(cells[column] + " -")[0], "*"), 64)
		if err1 != nil || err2 != nil {
			continue // the header's rule
		}
		out = append(out, pePoint{bpc, pe})
	}
	return out
}

func TestWebPLossy(t *testing.T) {
	lossy, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	lossless := []byte("RIFF\x10\x00\x00\x00WEBPVP8L\x04\x00\x00\x00\x2f\x00\x00\x00")
	extended := []byte("RIFF\x20\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00VP8 \x02\x00\x00\x00\x00\x00")
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"lossy file", lossy, true},
		{"lossless", lossless, false},
		{"extended, lossy inside", extended, true},
		{"truncated", lossy[:14], false},
		{"huge chunk size", []byte("RIFF\x10\x00\x00\x00WEBPABCD\xff\xff\xff\xff"), false},
	}
	for _, tt := range tests {
		if got := webpLossy(tt.data); got != tt.want {
			t.Errorf("%s: webpLossy = %v, want %v", tt.name, got, tt.want)
		}
	}
	img, err := Decode(lossy, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !img.Clone().lossyWebP {
		t.Error("a decoded lossy WebP (cloned) is not marked lossy")
	}
}

// TestStealthOfCompressed: advice after embedding counts the payload as
// stored, so a secret that compressed well is rated by its stored size.
func TestStealthOfCompressed(t *testing.T) {
	cover := &Image{r: newRaster(320, 200, 3, false, false), SourceFormat: "png"}
	secret := Secret{Name: "zeros", Data: make([]byte, 20000)}
	before := StealthFor(cover, Options{}, secret.Name, "", len(secret.Data))
	_, stats, err := Embed(context.Background(), cover, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	after := StealthOf(cover, Options{}, secret.Name, "", stats)
	if !stats.Compressed || before.Rating != RatingDetectable || after.Rating != RatingStealthy {
		t.Errorf("compressed %v: rated %s before (%.3f bpc) and %s after embedding (%.3f bpc), want detectable then stealthy",
			stats.Compressed, before.Rating, before.BitsPerChannel, after.Rating, after.BitsPerChannel)
	}
	if after.BitsPerChannel != stats.BitsPerChannel {
		t.Errorf("advice says %.5f bits per channel, Embed %.5f", after.BitsPerChannel, stats.BitsPerChannel)
	}
}
