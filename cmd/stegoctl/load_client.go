package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"strings"
	"time"
)

// maxLoadBody bounds every response body a load client reads.
const maxLoadBody = 64 << 20

// stegoClient makes the API calls of a load run against one base URL.
type stegoClient struct {
	http     *http.Client
	password string
}

// callResult is one HTTP exchange: the body of a 2xx answer, or the
// failure kind and message.
type callResult struct {
	body    []byte
	node    string
	latency time.Duration
	kind    string // "" on success
	err     string
	resent  int // requests sent again on a new connection (see post)
}

// newLoadHTTPClient returns a client whose every request ends within
// timeout and which keeps one idle connection per client and target.
func newLoadHTTPClient(clients int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = clients
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{Transport: tr, Timeout: timeout}
}

// post sends one multipart file to base+path and reads the answer.
func (c *stegoClient) post(ctx context.Context, url, filename string, file []byte) callResult {
	var body bytes.Buffer
	body.Grow(len(file) + 512)
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", filename)
	if err == nil {
		_, err = fw.Write(file)
	}
	if err == nil && c.password != "" {
		err = mw.WriteField("password", c.password)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return callResult{kind: kindTransport, err: fmt.Sprintf("build request: %v", err)}
	}
	start := time.Now()
	resp, resent, err := c.send(ctx, url, mw.FormDataContentType(), body.Bytes())
	if err != nil {
		return callResult{latency: time.Since(start), kind: kindTransport, err: err.Error(), resent: resent}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLoadBody+1))
	r := callResult{node: resp.Header.Get("X-Node-ID"), latency: time.Since(start), resent: resent}
	switch {
	case err != nil:
		r.kind, r.err = kindTransport, fmt.Sprintf("POST %s: reading answer: %v", url, err)
	case len(data) > maxLoadBody:
		r.kind, r.err = kindTransport, fmt.Sprintf("POST %s: answer over %d bytes", url, maxLoadBody)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		r.kind = failureKind(resp.StatusCode)
		r.err = fmt.Sprintf("POST %s: %s (node %q): %s", url, resp.Status, r.node, snippet(data))
	default:
		r.body = data
	}
	return r
}

// send POSTs payload. A request whose reused keep-alive connection the
// server closed before any answer came is sent again (at most
// maxResends times), on a new connection: an HTTP/1.1 client cannot tell such a close from an idle
// timeout racing its request (nginx closes idle connections when it
// reloads, as it does when workers join or leave), and browsers and
// curl resend in this case too. Hide and reveal are pure functions of
// the request, so nothing can happen twice. resent counts it; the
// report shows the total, so the race stays visible.
func (c *stegoClient) send(ctx context.Context, url, contentType string, payload []byte) (resp *http.Response, resent int, err error) {
	for {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return nil, resent, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", contentType)
		resp, err = c.http.Do(req)
		if err == nil || !reused || resent >= maxResends || ctx.Err() != nil {
			return resp, resent, err
		}
		// The server closed its idle connections (all of them, if it
		// reloaded): the others in the pool are no better than this one.
		c.http.CloseIdleConnections()
		resent++
	}
}

// maxResends bounds the resends of one request (see send).
const maxResends = 2

// embed hides secret in the node's built-in cover and returns the PNG.
func (c *stegoClient) embed(ctx context.Context, base string, secret []byte) callResult {
	return c.post(ctx, base+"/api/embed?format=png", "secret.bin", secret)
}

// extract recovers the secret in png.
func (c *stegoClient) extract(ctx context.Context, base string, png []byte) callResult {
	return c.post(ctx, base+"/api/extract?format=raw", "stego.png", png)
}

// verify checks that extracting png gives back data whose SHA-256 is
// want; r is the measured call whose outcome the verify may turn into a
// failure (its latency and node stay those of r).
func (c *stegoClient) verify(ctx context.Context, base string, png []byte, want [32]byte, wantLen int, r callResult) callResult {
	v := c.extract(ctx, base, png)
	r.resent += v.resent
	if v.kind != "" {
		r.kind, r.err = v.kind, "verify: "+v.err
		return r
	}
	if sha256.Sum256(v.body) != want {
		r.kind = kindVerify
		r.err = fmt.Sprintf("verify: extract via node %q gave %d bytes, not the %d-byte secret embedded by node %q (SHA-256 differs)",
			v.node, len(v.body), wantLen, r.node)
	}
	return r
}

// snippet is the start of an error body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b[:min(len(b), 200)])), " ")
	if len(b) > 200 {
		s += "…"
	}
	return s
}

// cancelled reports whether a failure is only our own cancellation (the
// run ended while the request was in flight): such requests are not
// counted at all.
func cancelled(ctx context.Context, r callResult) bool {
	return r.kind == kindTransport && ctx.Err() != nil
}
