package api

import (
	"bytes"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestWebAppServing(t *testing.T) {
	s, _ := newTestServer(t, nil)
	cases := []struct {
		name, method, path string
		header             map[string]string
		status             int
		contentType        string // prefix
		body               string // substring
	}{
		{"index at /", "GET", "/", nil, 200, "text/html; charset=utf-8", `<script type="module" src="/web/js/main.js">`},
		{"index by name", "GET", "/web/index.html", nil, 200, "text/html", "<title>stegocluster</title>"},
		{"stylesheet", "GET", "/web/app.css", nil, 200, "text/css; charset=utf-8", "prefers-color-scheme: dark"},
		{"module", "GET", "/web/js/main.js", nil, 200, "text/javascript; charset=utf-8", "initTabs"},
		{"icon", "GET", "/web/icon.svg", nil, 200, "image/svg+xml", "<svg"},
		{"built-in cover", "GET", "/web/default-cover.png", nil, 200, "image/png", "\x89PNG"},
		{"HEAD /", "HEAD", "/", nil, 200, "text/html", ""},
		{"unknown asset", "GET", "/web/nope.js", nil, 404, "application/json", `"code":"not_found"`},
		{"no escaping web/", "GET", "/web/../server.go", nil, 404, "application/json", `"code":"not_found"`},
		{"unknown API path stays JSON", "GET", "/api/nope", nil, 404, "application/json", `"code":"not_found"`},
		{"unknown top-level path", "GET", "/nope", nil, 404, "application/json", `"code":"not_found"`},
		{"POST / is refused in JSON", "POST", "/", nil, 405, "application/json", `"code":"method_not_allowed"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, s, tc.method, tc.path, nil, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q: %.200s", tc.body, rec.Body)
			}
			if tc.status == 200 {
				if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
					t.Errorf("Cache-Control %q, want no-cache (revalidate with the ETag)", cc)
				}
				if rec.Header().Get("ETag") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("missing ETag or nosniff: %v", rec.Header())
				}
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD answered a body of %d bytes", rec.Body.Len())
			}
		})
	}
}

func TestWebAppRevalidationAndPolicy(t *testing.T) {
	s, _ := newTestServer(t, nil)
	first := do(t, s, "GET", "/", nil, nil)
	etag := first.Header().Get("ETag")
	csp := first.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, h := range []string{etag, `"other", ` + etag, "*"} {
		if rec := do(t, s, "GET", "/", nil, map[string]string{"If-None-Match": h}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and no body", h, rec.Code, rec.Body.Len())
		}
	}
	if rec := do(t, s, "GET", "/", nil, map[string]string{"If-None-Match": `"stale"`}); rec.Code != 200 {
		t.Errorf("a stale ETag got %d, want 200", rec.Code)
	}
	cover := do(t, s, "GET", "/web/default-cover.png", nil, nil)
	if !bytes.Equal(cover.Body.Bytes(), builtinCoverPNG) {
		t.Error("/web/default-cover.png is not the built-in cover")
	}
}

// TestWebAppReferencesResolve checks, without a browser, that every file
// index.html links and every module import resolves to an embedded file,
// and that nothing is loaded from another origin.
func TestWebAppReferencesResolve(t *testing.T) {
	assets, err := loadWebAssets()
	if err != nil {
		t.Fatal(err)
	}
	attr := regexp.MustCompile(`(?:src|href)="([^"#]+)"`)
	imports := regexp.MustCompile(`(?m)^import [^"]*"(\./[^"]+)";`)
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	checked := 0
	err = fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, _ := webFiles.ReadFile(p)
		name := strings.TrimPrefix(p, "web/")
		// The SVG namespace is a name, not a fetch.
		scan := strings.ReplaceAll(string(body), "http://www.w3.org/2000/svg", "")
		if m := external.FindString(scan); m != "" {
			t.Errorf("%s refers to another origin: %s", name, m)
		}
		if strings.HasSuffix(p, ".html") {
			for _, m := range attr.FindAllStringSubmatch(string(body), -1) {
				ref := m[1]
				if !strings.HasPrefix(ref, "/web/") {
					continue
				}
				checked++
				if _, ok := assets[strings.TrimPrefix(ref, "/web/")]; !ok {
					t.Errorf("%s links %s, which is not embedded", name, ref)
				}
			}
		}
		if strings.HasSuffix(p, ".js") {
			dir := name[:strings.LastIndex(name, "/")+1]
			for _, m := range imports.FindAllStringSubmatch(string(body), -1) {
				checked++
				if _, ok := assets[dir+strings.TrimPrefix(m[1], "./")]; !ok {
					t.Errorf("%s imports %s, which is not embedded", name, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d references checked: is the pattern still right?", checked)
	}
}
