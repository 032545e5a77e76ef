package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/stegocluster/stegocluster/stego"
)

// craftedImage is what an attacker can make without any password: an
// image whose stored name and type are whatever they like, written with
// the codec directly so nothing cleans them on the way in.
func craftedImage(t *testing.T, name, mimeType string, data []byte) []byte {
	t.Helper()
	cover, err := stego.Decode(smallPNG(t, 64, 64), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := stego.Embed(context.Background(), cover, stego.Secret{Name: name, MIME: mimeType, Data: data}, stego.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := out.Encode(&buf, stego.PNG); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExtractCleansTheStoredNameAndType: both answers of /api/extract
// give the cleaned name and type of a crafted image, never the stored
// ones, and the raw answer's headers carry them intact.
func TestExtractCleansTheStoredNameAndType(t *testing.T) {
	s, _ := newTestServer(t, nil)
	secret := []byte("crafted")
	cases := []struct {
		name             string
		storedName       string
		storedMIME       string
		wantName         string
		wantMIME         string
		wantDisposition  string // the raw Content-Disposition, exactly
		wantDispositionF string // its filename as a client parses it
	}{
		{"traversal", "../../etc/passwd", "text/plain", "passwd", "text/plain", "attachment; filename=passwd", "passwd"},
		{"dotfile", ".bashrc", "text/plain", "_bashrc", "text/plain", "attachment; filename=_bashrc", "_bashrc"},
		{"terminal escape", "a\x1b[31mb", "text/plain", "a_[31mb", "text/plain", `attachment; filename="a_[31mb"`, "a_[31mb"},
		{"no name", "", "text/plain", stego.DefaultName, "text/plain", "attachment; filename=secret.bin", stego.DefaultName},
		{"quote in the name", `say "hi".txt`, "text/plain", "say _hi_.txt", "text/plain", `attachment; filename="say _hi_.txt"`, "say _hi_.txt"},
		{"non-ASCII name", "résumé.pdf", "application/pdf", "résumé.pdf", "application/pdf", "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf", "résumé.pdf"},
		{"junk after a parameter", "page.html", "text/html; charset=utf-8<script>", "page.html", genericType, "attachment; filename=page.html", "page.html"},
		{"not type/subtype", "a.txt", "foo", "a.txt", genericType, "attachment; filename=a.txt", "a.txt"},
		{"no type", "a.txt", "", "a.txt", genericType, "attachment; filename=a.txt", "a.txt"},
		{"header injection", "a.txt", "text/plain\r\nSet-Cookie: x=1", "a.txt", genericType, "attachment; filename=a.txt", "a.txt"},
		{"type made canonical", "a.txt", "Text/Plain; Charset=UTF-8; x=y", "a.txt", "text/plain; charset=utf-8", "attachment; filename=a.txt", "a.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := craftedImage(t, tc.storedName, tc.storedMIME, secret)

			rec := post(t, s, "/api/extract", nil, part{"file", "s.png", img})
			got := decodeJSON(t, rec)
			if rec.Code != http.StatusOK || got["recovered_filename"] != tc.wantName || got["recovered_mime"] != tc.wantMIME {
				t.Fatalf("JSON answer: %d filename %q mime %q, want %q %q", rec.Code, got["recovered_filename"], got["recovered_mime"], tc.wantName, tc.wantMIME)
			}
			if data, err := base64.StdEncoding.DecodeString(got["recovered_b64"].(string)); err != nil || !bytes.Equal(data, secret) {
				t.Fatalf("JSON answer's data: %q, %v", data, err)
			}

			rec = post(t, s, "/api/extract?format=raw", nil, part{"file", "s.png", img})
			h := rec.Header()
			if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), secret) {
				t.Fatalf("raw answer: %d %q", rec.Code, rec.Body)
			}
			if ct := h.Get("Content-Type"); ct != tc.wantMIME {
				t.Errorf("Content-Type %q, want %q", ct, tc.wantMIME)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") == "" {
				t.Errorf("raw answer lacks nosniff or a sandboxing CSP: %v", h)
			}
			cd := h.Get("Content-Disposition")
			if cd != tc.wantDisposition {
				t.Errorf("Content-Disposition %q, want %q", cd, tc.wantDisposition)
			}
			disposition, params, err := mime.ParseMediaType(cd)
			if err != nil || disposition != "attachment" || params["filename"] != tc.wantDispositionF {
				t.Errorf("Content-Disposition %q parses as %q %v (%v), want attachment with filename %q", cd, disposition, params, err, tc.wantDispositionF)
			}
		})
	}
}

// postSecret posts a multipart body whose "file" part declares
// contentType, which part (via CreateFormFile) cannot.
func postSecret(t *testing.T, s *Server, path, filename, contentType string, data []byte) (code int, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", contentType)
	fw, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	rec := do(t, s, http.MethodPost, path, &buf, map[string]string{"Content-Type": w.FormDataContentType(), "Accept": "image/png"})
	return rec.Code, rec.Body.Bytes()
}

// TestEmbedStoresCleanNamesAndTypes: what /api/embed stores is already
// clean, read back with the codec itself so that extract's own cleaning
// cannot hide a dirty store; a declared type that is not a type is
// refused rather than stored.
func TestEmbedStoresCleanNamesAndTypes(t *testing.T) {
	s, _ := newTestServer(t, nil)
	cases := []struct {
		name       string
		filename   string
		declared   string
		wantName   string
		wantMIME   string
		wantStatus int
		wantCode   string // for a refusal
	}{
		{"dot dot", "..", "text/plain", stego.DefaultName, "text/plain", http.StatusOK, ""},
		{"dotfile", ".bashrc", "text/plain", "_bashrc", "text/plain", http.StatusOK, ""},
		{"path", "../../etc/passwd", "text/plain", "passwd", "text/plain", http.StatusOK, ""},
		{"Windows path", `C:\Users\me\plan.txt`, genericType, "plan.txt", "text/plain; charset=utf-8", http.StatusOK, ""},
		{"type made canonical", "a.txt", "Text/Plain; Charset=UTF-8; x=y", "a.txt", "text/plain; charset=utf-8", http.StatusOK, ""},
		{"bad declared type", "a.txt", "foo", "", "", http.StatusBadRequest, codeBadRequest},
		{"junk declared type", "a.txt", "text/html; charset=utf-8<script>", "", "", http.StatusBadRequest, codeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postSecret(t, s, "/api/embed", tc.filename, tc.declared, []byte("the secret"))
			if code != tc.wantStatus {
				t.Fatalf("embed: %d %s, want %d", code, body, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusOK {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil || m["code"] != tc.wantCode || m["error"] == "" {
					t.Fatalf("refusal: %s (%v), want code %q", body, err, tc.wantCode)
				}
				return
			}
			img, err := stego.Decode(body, 0)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := stego.Extract(context.Background(), img, stego.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if stored.Name != tc.wantName || stored.MIME != tc.wantMIME {
				t.Fatalf("stored name %q type %q, want %q %q", stored.Name, stored.MIME, tc.wantName, tc.wantMIME)
			}
			// capacity's figure is for what embed stores, so it must name it.
			code, body = postSecret(t, s, "/api/capacity", tc.filename, tc.declared, []byte("the secret"))
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil || code != http.StatusOK || m["name"] != tc.wantName || m["mime"] != tc.wantMIME {
				t.Fatalf("capacity: %d %s, want name %q type %q", code, body, tc.wantName, tc.wantMIME)
			}
		})
	}
}
