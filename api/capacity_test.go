package api

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"
)

// TestCapacityIsWhatEmbedTakes asks /api/capacity in each way it can be
// asked, then embeds a secret of exactly the figure (200) and of one byte
// more (413 saying by how much), through the real handler stack. noise is
// incompressible, so the extra byte cannot hide in compression.
func TestCapacityIsWhatEmbedTakes(t *testing.T) {
	s, _ := newTestServer(t, nil)
	cover := smallPNG(t, 200, 150)
	cases := []struct {
		name     string
		ask      []part // besides depth and cover
		file     string // the name embed uploads the secret under
		own      bool   // send the small cover instead of the built-in one
		depth    string
		assumes  string // a word Assumes must contain; "-" for no Assumes; "" when the system's MIME table decides (.bin)
		wantMIME string
	}{
		{"name field", []part{{"name", "", []byte("cap.bin")}}, "cap.bin", false, "1", "", "application/octet-stream"},
		{"name and declared type", []part{{"name", "", []byte("cap.bin")}, {"mime", "", []byte("application/octet-stream")}}, "cap.bin", false, "1", "", "application/octet-stream"},
		{"name with a typed extension", []part{{"name", "", []byte("photo.png")}}, "photo.png", false, "1", "-", "image/png"},
		{"name on own cover at depth 3", []part{{"name", "", []byte("cap.bin")}}, "cap.bin", true, "3", "", "application/octet-stream"},
		{"path as a name", []part{{"name", "", []byte(`C:\Users\me\cap.bin`)}}, `C:\Users\me\cap.bin`, false, "1", "", "application/octet-stream"},
		{"untyped name", []part{{"name", "", []byte("cap")}}, "cap", false, "1", "MIME", genericType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			extra := []part{{"depth", "", []byte(tc.depth)}}
			if tc.own {
				extra = append(extra, part{"cover", "c.png", cover})
			}
			rec := post(t, s, "/api/capacity", nil, append(tc.ask, extra...)...)
			got := decodeJSON(t, rec)
			if rec.Code != http.StatusOK {
				t.Fatalf("capacity: %d %v", rec.Code, got)
			}
			assumes, _ := got["assumes"].(string)
			switch tc.assumes {
			case "":
			case "-":
				if assumes != "" {
					t.Errorf("assumes = %q, want none", assumes)
				}
			default:
				if !strings.Contains(assumes, tc.assumes) {
					t.Errorf("assumes = %q, want it to mention %q", assumes, tc.assumes)
				}
			}
			if got["mime"] != tc.wantMIME {
				t.Errorf("mime = %v, want %s", got["mime"], tc.wantMIME)
			}
			n := int(got["capacity_bytes"].(float64))

			// The same figure when the secret itself is asked about.
			rec = post(t, s, "/api/capacity", nil, append([]part{{"file", tc.file, noise(n)}}, extra...)...)
			withFile := decodeJSON(t, rec)
			if rec.Code != http.StatusOK || withFile["capacity_bytes"] != float64(n) || withFile["fits"] != true || withFile["secret_size_bytes"] != float64(n) || withFile["assumes"] != nil {
				t.Fatalf("capacity with the file of %d bytes: %d %v", n, rec.Code, withFile)
			}
			rec = post(t, s, "/api/capacity", nil, append([]part{{"file", tc.file, noise(n + 1)}}, extra...)...)
			if over := decodeJSON(t, rec); rec.Code != http.StatusOK || over["fits"] != false {
				t.Fatalf("capacity with a file one byte over: %d %v", rec.Code, over)
			}

			rec = post(t, s, "/api/embed", nil, append([]part{{"file", tc.file, noise(n)}}, extra...)...)
			if rec.Code != http.StatusOK {
				t.Fatalf("embed of exactly %d bytes: %d %s", n, rec.Code, rec.Body)
			}
			rec = post(t, s, "/api/embed", nil, append([]part{{"file", tc.file, noise(n + 1)}}, extra...)...)
			body := decodeJSON(t, rec)
			if rec.Code != http.StatusRequestEntityTooLarge || body["code"] != codeTooLarge ||
				body["needed_bytes"] != float64(n+1) || body["available_bytes"] != float64(n) {
				t.Fatalf("embed of %d bytes: %d %v, want 413 needing %d of %d", n+1, rec.Code, body, n+1, n)
			}
		})
	}
}

// TestCapacityWithoutASecretSaysWhatItAssumes: the bare figure is for a
// secret with no name and no type, and the answer says so.
func TestCapacityWithoutASecretSaysWhatItAssumes(t *testing.T) {
	s, _ := newTestServer(t, nil)
	rec := do(t, s, http.MethodPost, "/api/capacity", nil, nil)
	got := decodeJSON(t, rec)
	assumes, _ := got["assumes"].(string)
	if rec.Code != http.StatusOK || got["capacity_bytes"] != 230337.0 || !strings.Contains(assumes, "name") {
		t.Fatalf("capacity of the built-in cover: %d %v", rec.Code, got)
	}
	// With the name, exactly its length and the type's come off.
	rec = post(t, s, "/api/capacity", nil, part{"name", "", []byte("cap.bin")})
	if got := decodeJSON(t, rec); got["capacity_bytes"] != float64(230337-len("cap.bin")-len(genericType)) || got["name"] != "cap.bin" {
		t.Fatalf("capacity for cap.bin: %d %v", rec.Code, got)
	}
}

func TestCapacityRefusesWhatEmbedRefuses(t *testing.T) {
	s, _ := newTestServer(t, nil)
	cases := []struct {
		name   string
		parts  []part
		status int
		code   string
	}{
		{"type over 255 bytes", []part{{"mime", "", []byte(strings.Repeat("t", 256))}}, http.StatusBadRequest, codeBadRequest},
		{"name and type over a tiny cover", []part{{"name", "", []byte(strings.Repeat("n", 200))}, {"cover", "c.png", smallPNG(t, 16, 16)}}, http.StatusRequestEntityTooLarge, codeTooLarge},
		{"bad depth", []part{{"name", "", []byte("cap.bin")}, {"depth", "", []byte("5")}}, http.StatusBadRequest, codeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, s, "/api/capacity", nil, tc.parts...)
			if body := decodeJSON(t, rec); rec.Code != tc.status || body["code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", rec.Code, body, tc.status, tc.code)
			}
		})
	}
}

// TestCapacityAndEmbedGiveStealthAdvice: the capacity answer carries the
// per-cover stealthy figure, or why there is none (the public built-in
// cover, a JPEG cover), and embed's answer rates what it made.
func TestCapacityAndEmbedGiveStealthAdvice(t *testing.T) {
	s, _ := newTestServer(t, nil)
	opaque := coverPNG(t, 400, 300)
	var jpegCover bytes.Buffer
	if err := jpeg.Encode(&jpegCover, image.NewRGBA(image.Rect(0, 0, 400, 300)), nil); err != nil {
		t.Fatal(err)
	}
	samples := 400 * 300 * 3
	overhead := 45 + 2 + 16 + len("a.bin") + len(genericType)
	stealthy := float64(int((0.05+0.05*4/7)*float64(samples)/8) - overhead) // where P_E crosses 0.4: docs/stealth.md
	cases := []struct {
		name     string
		parts    []part
		stealthy any // JSON number, or nil for none
		jpeg     any
		rating   any
	}{
		{"built-in cover", nil, nil, nil, nil},
		{"own PNG cover", []part{{"cover", "c.png", opaque}}, stealthy, nil, nil},
		{"own PNG cover, a secret within", []part{{"cover", "c.png", opaque}, {"file", "a.bin", noise(int(stealthy))}}, stealthy, nil, "stealthy"},
		{"own PNG cover, a secret over", []part{{"cover", "c.png", opaque}, {"file", "a.bin", noise(int(stealthy) + 1)}}, stealthy, nil, "detectable"},
		{"JPEG cover", []part{{"cover", "c.jpg", jpegCover.Bytes()}, {"file", "a.bin", noise(10)}}, nil, true, "detectable"},
		// A secret that does not fit makes no image: nothing to rate (it
		// was once rated at 2 bits per channel at depth 1).
		{"own PNG cover, a secret that does not fit", []part{{"cover", "c.png", opaque}, {"file", "a.bin", noise(100_000)}}, stealthy, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parts := append([]part{{"name", "", []byte("a.bin")}, {"mime", "", []byte(genericType)}}, tc.parts...)
			rec := post(t, s, "/api/capacity", nil, parts...)
			got := decodeJSON(t, rec)
			st, _ := got["stealth"].(map[string]any)
			if rec.Code != http.StatusOK || st == nil {
				t.Fatalf("capacity: %d %v", rec.Code, got)
			}
			if st["stealthy_bytes"] != tc.stealthy || st["jpeg_cover"] != tc.jpeg || st["rating"] != tc.rating || st["advice"] == "" {
				t.Errorf("stealth %v, want stealthy_bytes %v, jpeg_cover %v, rating %v", st, tc.stealthy, tc.jpeg, tc.rating)
			}
			if tc.stealthy == nil && st["no_stealthy_reason"] == nil {
				t.Errorf("no stealthy figure and no reason: %v", st)
			}
		})
	}

	rec := post(t, s, "/api/embed", nil, part{"cover", "c.png", opaque}, part{"file", "a.bin", noise(100)})
	got := decodeJSON(t, rec)
	if st, _ := got["stealth"].(map[string]any); rec.Code != http.StatusOK || st == nil || st["rating"] != "stealthy" || st["bits_per_channel"] != got["bits_per_channel"] {
		t.Fatalf("embed: %d, stealth %v (bits_per_channel %v)", rec.Code, got["stealth"], got["bits_per_channel"])
	}
}

// TestModeField: embed and capacity take the embedding mode by name, and
// refuse one they do not know.
func TestModeField(t *testing.T) {
	s, _ := newTestServer(t, nil)
	cover := coverPNG(t, 200, 150)
	for _, tc := range []struct {
		mode   string
		status int
	}{{"", http.StatusOK}, {"keyed", http.StatusOK}, {"sequential", http.StatusOK}, {"adaptive", http.StatusOK}, {"lsb", http.StatusBadRequest}} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			parts := []part{{"cover", "c.png", cover}, {"file", "a.bin", noise(50)}}
			if tc.mode != "" {
				parts = append(parts, part{"mode", "", []byte(tc.mode)})
			}
			rec := post(t, s, "/api/embed", nil, parts...)
			got := decodeJSON(t, rec)
			if rec.Code != tc.status {
				t.Fatalf("embed: %d %v, want %d", rec.Code, got, tc.status)
			}
			want := tc.mode
			if want == "" {
				want = "keyed"
			}
			if tc.status == http.StatusOK && got["mode"] != want {
				t.Errorf("embed answered mode %v, want %s", got["mode"], want)
			}
			if tc.status == http.StatusOK { // and the image gives the secret back
				img, err := base64.StdEncoding.DecodeString(got["stego_image_b64"].(string))
				if err != nil {
					t.Fatal(err)
				}
				rec = post(t, s, "/api/extract", nil, part{"file", "s.png", img})
				if back := decodeJSON(t, rec); rec.Code != http.StatusOK || back["recovered_b64"] != base64.StdEncoding.EncodeToString(parts[1].data) {
					t.Fatalf("extract: %d %v", rec.Code, back["error"])
				}
			}
			rec = post(t, s, "/api/capacity", nil, parts...)
			if rec.Code != tc.status {
				t.Fatalf("capacity: %d %v, want %d", rec.Code, decodeJSON(t, rec), tc.status)
			}
		})
	}
}
