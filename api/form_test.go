package api

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stegocluster/stegocluster/worker"
)

// TestFormRefusesWhatItCannotTrust: a form that is cut off, or whose part
// headers are huge, is refused with 400 before anything is hidden.
func TestFormRefusesWhatItCannotTrust(t *testing.T) {
	const ct = "multipart/form-data; boundary=XYZ"
	huge := func() string {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.SetBoundary("XYZ")
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="a.txt"`)
		h.Set("Content-Type", "text/plain; x="+strings.Repeat("a", 1<<20))
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write([]byte("secret"))
		_ = w.Close()
		return buf.String()
	}()
	for _, tc := range []struct {
		name, body, want string
	}{
		{"cut off in a part", "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello, this secret is cut he", "cut off"},
		{"cut off in the next part's header", "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nwhole\r\n--XYZ\r\nContent-Disposition: form-da", "cut off"},
		{"a 1 MB part header", huge, "part headers"},
		{"no boundary", "x", "boundary"},
		{"another boundary", "--ABC\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--ABC--\r\n", "not the one the Content-Type declares"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, nil)
			h := map[string]string{"Content-Type": ct}
			if tc.name == "no boundary" {
				h["Content-Type"] = "multipart/form-data"
			}
			rec := do(t, s, http.MethodPost, "/api/embed", strings.NewReader(tc.body), h)
			if body := rec.Body.String(); rec.Code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %.300s, want 400 saying %q", rec.Code, body, tc.want)
			}
			if held := s.budget.Held(); held != 0 {
				t.Fatalf("the refused form left %d bytes reserved", held)
			}
		})
	}
}

// TestFormKeepsNoUnreservedHeaders: what a form keeps of its parts'
// headers (a file's Content-Type) is within what it reserved.
func TestFormKeepsNoUnreservedHeaders(t *testing.T) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="cover"; filename="c.png"`)
	h.Set("Content-Type", "image/png; x="+strings.Repeat("a", 60<<10)) // just under the cap
	pw, _ := w.CreatePart(h)
	_, _ = pw.Write([]byte("x"))
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, "/api/embed", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res := worker.NewBudget(512<<20, 0).Reserve()
	defer res.Release()
	f, err := readForm(context.Background(), req, 2<<20, res)
	if err != nil {
		t.Fatal(err)
	}
	if kept := int64(len(f.types["cover"]) + len(f.files["cover"])); kept > res.Held() {
		t.Fatalf("the form keeps %d bytes, its reservation holds %d", kept, res.Held())
	}
}

// TestFormBodySeesTheClosingDelimiter: the closing delimiter is seen
// however the body's reads cut it, and only the closing one.
func TestFormBodySeesTheClosingDelimiter(t *testing.T) {
	whole := "--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue --XYZ-- not closing\r\n--XYZ--\r\nepilogue"
	for _, tc := range []struct {
		name   string
		body   string
		closed bool
	}{
		{"whole", whole, true},
		{"cut before the end", whole[:len(whole)-len("--\r\nepilogue")], false},
		{"empty form", "--XYZ--", true},
		{"content that looks like it", "--XYZ\r\n\r\nx--XYZ--", false},
	} {
		for _, chunk := range []int{1, 2, 3, 7, 64} {
			b := newFormBody(iotest.OneByteReader(bytes.NewReader([]byte(tc.body))), "XYZ")
			var r io.Reader = b
			if chunk > 1 {
				b = newFormBody(bytes.NewReader([]byte(tc.body)), "XYZ")
				r = &chunked{b, chunk}
			}
			if _, err := io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
			if b.closed != tc.closed {
				t.Errorf("%s, reads of %d: closed %v, want %v", tc.name, chunk, b.closed, tc.closed)
			}
		}
	}
}

// chunked reads at most n bytes at a time.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestFormRefusesAmbiguousFields: a form whose meaning is unclear is
// refused before anything is hidden — not hidden under the public key
// because the password came as a file or under a misspelt name, and not
// with one of two passwords.
func TestFormRefusesAmbiguousFields(t *testing.T) {
	secret := part{"file", "plan.txt", []byte("meet at noon")}
	for _, tc := range []struct {
		name  string
		path  string
		parts []part
		want  string
	}{
		{"password as a file", "/api/embed", []part{secret, {"password", "pw.txt", []byte("hunter2")}}, "sent as a file"},
		{"depth as a file", "/api/capacity", []part{{"depth", "d.txt", []byte("2")}}, "sent as a file"},
		{"password twice", "/api/embed", []part{secret, {"password", "", []byte("a")}, {"password", "", []byte("b")}}, "given twice"},
		{"two secrets", "/api/embed", []part{secret, {"file", "b.txt", []byte("second")}}, "given twice"},
		{"a misspelt password", "/api/embed", []part{secret, {"pasword", "", []byte("hunter2")}}, `\"pasword\" is not one this endpoint reads`},
		{"a field of another endpoint", "/api/extract", []part{{"file", "x.png", []byte("x")}, {"depth", "", []byte("2")}}, `\"depth\" is not one`},
		{"an unknown file", "/api/analyze", []part{{"file", "x.png", []byte("x")}, {"original", "o.png", []byte("x")}}, "sent as a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, nil)
			rec := post(t, s, tc.path, nil, tc.parts...)
			if body := rec.Body.String(); rec.Code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %.300s, want 400 saying %q", rec.Code, body, tc.want)
			}
			if held := s.budget.Held(); held != 0 {
				t.Fatalf("the refused form left %d bytes reserved", held)
			}
		})
	}
	// The fields each endpoint does read are still accepted.
	s, _ := newTestServer(t, nil)
	if rec := post(t, s, "/api/embed", nil, secret, part{"password", "", []byte("pw")}, part{"depth", "", []byte("2")}, part{"mode", "", []byte("keyed")}); rec.Code != http.StatusOK {
		t.Fatalf("embed with its own fields: %d %.300s", rec.Code, rec.Body.String())
	}
}
