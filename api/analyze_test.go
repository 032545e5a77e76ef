package api

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/stego"
	"github.com/stegocluster/stegocluster/worker"
)

// heldOutPhoto is a photograph the shipped rich model was not trained
// on (stego/steganalysis/train's -holdout), stored already halved, as
// the training covers are.
const heldOutPhoto = "bottles-half.png"

func readPhoto(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// embedPNG hides incompressible data at about bpc bits per channel in
// cover with today's keyed mode and returns the stego PNG.
func embedPNG(t *testing.T, cover []byte, bpc float64) []byte {
	t.Helper()
	img, err := stego.Decode(cover, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := int(bpc*float64(img.Width()*img.Height()*img.Channels())/8) - 63
	out, stats, err := stego.Embed(context.Background(), img, stego.Secret{Data: noise(n)}, stego.Options{Password: "analyze test"})
	if err != nil {
		t.Fatal(err)
	}
	if stats.BitsPerChannel < bpc*0.95 {
		t.Fatalf("embedded %.3f bits per channel, want %.2f", stats.BitsPerChannel, bpc)
	}
	var buf bytes.Buffer
	if err := out.Encode(&buf, stego.PNG); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// convertPNG re-encodes a PNG through conv (to gray, to 16 bits).
func convertPNG(t *testing.T, data []byte, conv func(image.Image) image.Image) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, conv(img)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func toGray(img image.Image) image.Image {
	g := image.NewGray(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			g.Set(x, y, img.At(x, y))
		}
	}
	return g
}

func to16(img image.Image) image.Image {
	m := image.NewRGBA64(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			m.SetRGBA64(x, y, color.RGBA64{uint16(r), uint16(g), uint16(b), 0xffff})
		}
	}
	return m
}

// TestAnalyzeRichModel sends a held-out photograph and the same photo
// with a heavy payload (0.5 bits per channel, today's keyed ±1 mode) to
// /api/analyze, with no option (the rich model runs by default) or with
// rich_model=true as a form field: the rich model tells them apart, the
// classic fields are all still there, and images it cannot judge are
// reported skipped.
func TestAnalyzeRichModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the rich-model detector on 512×1024 images")
	}
	s, _ := newTestServer(t, nil)
	cover := readPhoto(t, heldOutPhoto)
	cases := []struct {
		name        string
		file        []byte
		verdict     string // rich_model.verdict
		flagged     bool   // "rich-model" in flagged_by
		gray        bool
		skippedWord string // in rich_model.skipped when verdict is skipped
	}{
		{"held-out photo", cover, "cover", false, false, ""},
		{"same photo, 0.5 bpc hidden", embedPNG(t, cover, 0.5), "stego", true, false, ""},
		{"gray version", convertPNG(t, cover, toGray), "", false, true, ""},
		{"16-bit version", convertPNG(t, cover, to16), "skipped", false, false, "16-bit"},
		{"8x8 image", smallPNG(t, 8, 8), "skipped", false, false, "under 16 pixels"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			if i%2 == 0 {
				rec = post(t, s, "/api/analyze", nil, part{"file", "x.png", tc.file})
			} else {
				rec = post(t, s, "/api/analyze", nil, part{"file", "x.png", tc.file}, part{"rich_model", "", []byte("true")})
			}
			got := decodeJSON(t, rec)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, got)
			}
			for _, key := range []string{"width", "chi_square", "rs", "spa", "suspicious", "reasons", "flagged_by", "summary"} {
				if _, ok := got[key]; !ok {
					t.Errorf("answer lacks %q", key)
				}
			}
			rm, ok := got["rich_model"].(map[string]any)
			if !ok {
				t.Fatalf("answer lacks rich_model: %v", got)
			}
			t.Logf("rich_model %v; summary %q", rm, got["summary"])
			if tc.verdict != "" && rm["verdict"] != tc.verdict {
				t.Errorf("verdict %v (score %v), want %s", rm["verdict"], rm["score"], tc.verdict)
			}
			if tc.skippedWord != "" && !strings.Contains(rm["skipped"].(string), tc.skippedWord) {
				t.Errorf("skipped %q, want it to mention %q", rm["skipped"], tc.skippedWord)
			}
			if rm["gray"] != tc.gray {
				t.Errorf("gray %v, want %v", rm["gray"], tc.gray)
			}
			var flagged []string
			for _, f := range got["flagged_by"].([]any) {
				flagged = append(flagged, f.(string))
			}
			if slices.Contains(flagged, "rich-model") != tc.flagged {
				t.Errorf("flagged_by %v, want rich-model there: %v", flagged, tc.flagged)
			}
			if got["summary"] == "" || rm["model"] == "" || rm["notes"] == nil {
				t.Errorf("summary %q, model %q, notes %v", got["summary"], rm["model"], rm["notes"])
			}
			if rm["false_alarm_rate"] != stego.RichModelFalseAlarmRate {
				t.Errorf("false_alarm_rate %v, want %v", rm["false_alarm_rate"], stego.RichModelFalseAlarmRate)
			}
			if tc.verdict == "cover" || tc.verdict == "stego" {
				reg := rm["region"].(map[string]any)
				if reg["width"] != 512.0 || reg["height"] != 1024.0 {
					t.Errorf("region %v, want the whole 512×1024 image", reg)
				}
			}
		})
	}
}

// TestAnalyzeRichModelBudget: the rich model's memory comes out of the
// node's budget. With less free than a 1024 region takes, it analyses a
// smaller central region; with not even 256×256 free, it is skipped and
// the classic analysis still answers. Nothing goes over the budget.
func TestAnalyzeRichModelBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the rich-model detector")
	}
	photo := readPhoto(t, heldOutPhoto) // 512×1024 RGB: about 6.5 MB to decode, 53 MB for the rich model
	cases := []struct {
		name          string
		budget        int64
		width, height float64 // region analysed; 0 for skipped
	}{
		{"ample budget: whole image", 512 << 20, 512, 1024},
		{"40 MB: central 512×512", 40 << 20, 512, 512},
		{"12 MB: skipped", 12 << 20, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{NodeID: "n1", Cluster: newFakeCluster(), Pool: worker.NewPool(2, 4), AdminToken: testToken,
				MaxUpload: 2 << 20, MemoryBudget: tc.budget, BudgetWait: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			rec := post(t, s, "/api/analyze", nil, part{"file", "p.png", photo})
			got := decodeJSON(t, rec)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, got)
			}
			rm := got["rich_model"].(map[string]any)
			reg := rm["region"].(map[string]any)
			if tc.width == 0 {
				if rm["verdict"] != "skipped" || !strings.Contains(rm["skipped"].(string), "memory budget") {
					t.Fatalf("rich_model %v, want skipped for memory", rm)
				}
				return
			}
			if reg["width"] != tc.width || reg["height"] != tc.height {
				t.Fatalf("region %v, want %v×%v", reg, tc.width, tc.height)
			}
			if s.budget.Held() != 0 {
				t.Fatalf("%d bytes still reserved after the answer", s.budget.Held())
			}
		})
	}
}

// TestAnalyzeRichModelOff: rich_model=false gives the classic tests
// alone, with nothing reserved for the rich model; by default, when
// others hold the memory it needs, the rich model analyses a smaller
// region or is skipped, and the analysis answers either way. A value
// that is not a boolean is refused.
func TestAnalyzeRichModelOff(t *testing.T) {
	photo := readPhoto(t, heldOutPhoto) // 512×1024: 53 MB for the whole image, 26 for 512×512
	s, err := New(Config{NodeID: "n1", Cluster: newFakeCluster(), Pool: worker.NewPool(2, 4), AdminToken: testToken,
		MaxUpload: 2 << 20, MemoryBudget: 64 << 20, BudgetWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	other := s.budget.Reserve()
	defer other.Release()
	if err := other.Grow(context.Background(), 40<<20); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		path  string
		parts []part
	}{
		{"rich_model=false field", "/api/analyze", []part{{"file", "p.png", photo}, {"rich_model", "", []byte("false")}}},
		{"rich_model=false query", "/api/analyze?rich_model=false", []part{{"file", "p.png", photo}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, s, tc.path, nil, tc.parts...)
			got := decodeJSON(t, rec)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %v", rec.Code, got)
			}
			if _, ok := got["rich_model"]; ok {
				t.Fatalf("the rich model ran with rich_model=false: %v", got["rich_model"])
			}
			for _, key := range []string{"chi_square", "rs", "spa", "suspicious", "reasons", "flagged_by", "summary"} {
				if _, ok := got[key]; !ok {
					t.Errorf("answer lacks %q", key)
				}
			}
			if sum := got["summary"].(string); strings.Contains(sum, "rich") {
				t.Errorf("summary %q mentions the rich model", sum)
			}
			if held := s.budget.Held(); held != 40<<20 {
				t.Fatalf("%d bytes reserved after the answer, want only the other request's %d", held, 40<<20)
			}
		})
	}
	t.Run("default, 24 MB free: answers without the whole image", func(t *testing.T) {
		rec := post(t, s, "/api/analyze", nil, part{"file", "p.png", photo})
		got := decodeJSON(t, rec)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %v", rec.Code, got)
		}
		rm, ok := got["rich_model"].(map[string]any)
		if !ok {
			t.Fatalf("no rich_model in %v", got)
		}
		reg := rm["region"].(map[string]any)
		switch {
		case rm["verdict"] == "skipped":
			if !strings.Contains(rm["skipped"].(string), "memory budget") {
				t.Fatalf("skipped %q, want it to name the memory budget", rm["skipped"])
			}
		case reg["width"].(float64) >= 512 && reg["height"].(float64) >= 1024:
			t.Fatalf("region %v: the whole image's 53 MB cannot fit in 24 MB", reg)
		}
		if held := s.budget.Held(); held != 40<<20 {
			t.Fatalf("%d bytes reserved after the answer, want %d", held, 40<<20)
		}
	})
	t.Run("rich_model=maybe", func(t *testing.T) {
		rec := post(t, s, "/api/analyze", nil, part{"file", "p.png", photo}, part{"rich_model", "", []byte("maybe")})
		if body := decodeJSON(t, rec); rec.Code != http.StatusBadRequest || body["code"] != "bad_request" {
			t.Fatalf("got %d %v, want 400 bad_request", rec.Code, body)
		}
	})
}

// TestAnalyzeRichModelCap: the rich model analyses at most
// the central 1024×1024 pixels through the API, however much budget is
// left (the model was trained on 512×512 crops).
func TestAnalyzeRichModelCap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the rich-model detector on a 1024×1024 region")
	}
	s, _ := newTestServer(t, nil)
	rec := post(t, s, "/api/analyze", nil, part{"file", "skyline.jpg", readPhoto(t, "skyline.jpg")}, part{"rich_model", "", []byte("true")}) // 1600×1200
	got := decodeJSON(t, rec)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %v", rec.Code, got)
	}
	rm := got["rich_model"].(map[string]any)
	reg := rm["region"].(map[string]any)
	if reg["width"] != 1024.0 || reg["height"] != 1024.0 || reg["x"] != 288.0 || reg["y"] != 88.0 {
		t.Fatalf("region %v, want the central 1024×1024 at (288,88)", reg)
	}
	if s.budget.Held() != 0 {
		t.Fatalf("%d bytes still reserved after the answer", s.budget.Held())
	}
}

// TestAnalyzeBadInput: what cannot be analysed gets a JSON error with
// the right status, never a panic or a 500.
func TestAnalyzeBadInput(t *testing.T) {
	s, _ := newTestServer(t, nil)
	good := smallPNG(t, 64, 64)
	truncated := good[:len(good)/2]
	cases := []struct {
		name   string
		parts  []part
		status int
		code   string
	}{
		{"no file", []part{{"password", "", []byte("x")}}, 400, "bad_request"},
		{"not an image", []part{{"file", "a.png", []byte("this is a text file, not an image")}}, 415, "unsupported_image"},
		{"truncated PNG", []part{{"file", "a.png", truncated}}, 415, "unsupported_image"},
		{"empty file", []part{{"file", "a.png", nil}}, 415, "unsupported_image"},
		{"cover of another size", []part{{"file", "a.png", good}, {"cover", "c.png", smallPNG(t, 32, 32)}}, 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, s, "/api/analyze", nil, tc.parts...)
			body := decodeJSON(t, rec)
			if rec.Code != tc.status || body["code"] != tc.code || body["error"] == "" {
				t.Fatalf("got %d %v, want %d code %q", rec.Code, body, tc.status, tc.code)
			}
		})
	}
}
