package api

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// An extraction says which container version the image was, and tells
// whoever used a password on an image from before version 3 to hide the
// secret again: its positions come from the password alone.
func TestExtractSaysTheFormatVersion(t *testing.T) {
	s, _ := newTestServer(t, nil)
	for _, tc := range []struct {
		golden, password string
		version          float64
		note             bool
	}{
		{"golden-v2-keyed-password.png", "golden password v2", 2, true},
		{"golden-v1-keyed-password.png", "golden password v1", 1, true},
		{"golden-v2-keyed-public.png", "", 2, false},
		{"golden-v3-keyed-password.png", "golden password v3", 3, false},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			img, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "stego", "testdata", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			parts := []part{{"file", "s.png", img}}
			if tc.password != "" {
				parts = append(parts, part{"password", "", []byte(tc.password)})
			}
			rec := post(t, s, "/api/extract", nil, parts...)
			if rec.Code != http.StatusOK {
				t.Fatalf("extract: %d %s", rec.Code, rec.Body)
			}
			got := decodeJSON(t, rec)
			notes, _ := got["notes"].([]any)
			if got["format_version"] != tc.version || (len(notes) == 1) != tc.note || len(notes) > 1 {
				t.Fatalf("format_version %v, notes %q; want %v, a note: %v", got["format_version"], notes, tc.version, tc.note)
			}
			if tc.note && !strings.Contains(notes[0].(string), "hide the secret again") {
				t.Fatalf("note %q does not say what to do", notes[0])
			}
			rec = post(t, s, "/api/extract?format=raw", nil, parts...)
			if want := strconv.Itoa(int(tc.version)); rec.Code != http.StatusOK || rec.Header().Get("X-Stego-Format-Version") != want {
				t.Fatalf("raw extract: %d, X-Stego-Format-Version %q, want %s", rec.Code, rec.Header().Get("X-Stego-Format-Version"), want)
			}
		})
	}
}
