package api

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

// webFiles is the web app: plain HTML, CSS and ES modules, served as
// they are (no build step, nothing fetched from elsewhere).
//
//go:embed web
var webFiles embed.FS

// webAsset is one file of the web app, ready to serve.
type webAsset struct {
	body        []byte
	contentType string
	etag        string
}

// webContentTypes are set explicitly: the platform's MIME table may lack
// some (".mjs", ".svg") or differ between machines.
var webContentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// webCSP keeps the page to its own origin: scripts, styles and fetches
// from this server only; images also from blob: and data: URLs (the
// previews the page makes from files the user picks).
const webCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// loadWebAssets reads the embedded web app into memory, keyed by the
// path under web/ ("index.html", "js/main.js"). The built-in cover is
// added as "default-cover.png" so the page can show and compare it.
func loadWebAssets() (map[string]webAsset, error) {
	assets := map[string]webAsset{}
	add := func(name string, body []byte) {
		ct := webContentTypes[path.Ext(name)]
		if ct == "" {
			ct = mime.TypeByExtension(path.Ext(name))
		}
		if ct == "" {
			ct = http.DetectContentType(body)
		}
		sum := sha256.Sum256(body)
		assets[name] = webAsset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	err := fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := webFiles.ReadFile(p)
		if err != nil {
			return err
		}
		add(strings.TrimPrefix(p, "web/"), body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("api: reading the embedded web app: %w", err)
	}
	if _, ok := assets["index.html"]; !ok {
		return nil, fmt.Errorf("api: the embedded web app has no index.html")
	}
	add("default-cover.png", builtinCoverPNG)
	return assets, nil
}

// webRoutes serves the web app: GET / is index.html, GET /web/* the
// other files. Every response carries a strong ETag and
// "Cache-Control: no-cache", so browsers revalidate (a 304 costs a round
// trip, never stale code after an upgrade). An unknown file is the usual
// JSON 404. If the embedded files cannot be read (a broken build), both
// routes answer 500 JSON rather than failing the node.
func (s *Server) webRoutes(r *gin.Engine) {
	assets, err := loadWebAssets()
	if err != nil {
		s.cfg.Logger.Error("web app unavailable", "err", err)
	}
	serve := func(c *gin.Context, name string) {
		if err != nil {
			fail(c, err)
			return
		}
		a, ok := assets[name]
		if !ok {
			fail(c, &apiError{http.StatusNotFound, codeNotFound, "no such file in the web app: " + name, nil})
			return
		}
		h := c.Writer.Header()
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if name == "index.html" {
			h.Set("Content-Security-Policy", webCSP)
			h.Set("Referrer-Policy", "no-referrer")
		}
		if etagMatches(c.GetHeader("If-None-Match"), a.etag) {
			c.Status(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", a.contentType)
		if c.Request.Method == http.MethodHead {
			h.Set("Content-Length", fmt.Sprint(len(a.body)))
			c.Status(http.StatusOK)
			return
		}
		c.Data(http.StatusOK, a.contentType, a.body)
	}
	index := func(c *gin.Context) { serve(c, "index.html") }
	file := func(c *gin.Context) {
		name := strings.TrimPrefix(path.Clean("/"+c.Param("filepath")), "/")
		if name == "" || name == "index.html" {
			name = "index.html"
		}
		serve(c, name)
	}
	r.GET("/", index)
	r.HEAD("/", index)
	r.GET("/web/*filepath", file)
	r.HEAD("/web/*filepath", file)
}

// etagMatches implements If-None-Match for strong ETags: a list of tags
// or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
