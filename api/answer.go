package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// writeJSONWithBase64 answers 200 with the JSON object fields plus
// key: base64(raw), streaming the base64 straight to the client. Building
// it in memory first (a string, then its JSON encoding) would cost about
// 2.7 times raw beyond what the request reserved — for a 50 MB answer
// 135 MB that no budget saw.
func (s *Server) writeJSONWithBase64(c *gin.Context, fields gin.H, key string, raw []byte) {
	head, err := json.Marshal(fields)
	if err != nil {
		fail(c, err)
		return
	}
	keyJSON, err := json.Marshal(key)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	w := newAnswerWriter(c.Writer, s.cfg.BodyIdleTimeout)
	defer w.finish()
	// {"a":1} becomes {"a":1,"key":"…"}; an empty object has no comma.
	head = head[:len(head)-1]
	if len(fields) > 0 {
		head = append(head, ',')
	}
	head = append(append(head, keyJSON...), ':', '"')
	if _, err := w.Write(head); err != nil {
		return // the client went away; nothing more to say
	}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := enc.Write(raw); err != nil {
		return
	}
	if err := enc.Close(); err != nil {
		return
	}
	_, _ = w.Write([]byte("\"}\n"))
}

// writeAnswer answers 200 with data as contentType, at the pace of a
// client that keeps reading (answerWriter).
func (s *Server) writeAnswer(c *gin.Context, contentType string, data []byte) {
	c.Header("Content-Type", contentType)
	c.Header("Content-Length", strconv.Itoa(len(data)))
	c.Status(http.StatusOK)
	w := newAnswerWriter(c.Writer, s.cfg.BodyIdleTimeout)
	defer w.finish()
	_, _ = w.Write(data) // an error means the client went away
}

// answerChunk is how much of an answer a client must take within one
// idle timeout: 4 MiB in 10 s is 400 KiB/s, which nginx (the usual
// client) beats by far. It is large on purpose: a typical answer (a 1.3
// MB stego PNG) leaves in one write, handed to nginx at once; written
// in small pieces it took longer, under load, and a node killed in
// between cut the answer nginx had begun to relay.
const answerChunk = 4 << 20

// answerWriter makes a client keep reading: each answerChunk of the
// answer must be taken within the idle timeout, or the write fails and
// the request ends, releasing what it holds of the node's memory budget.
// A client that stops reading (a direct one: nginx takes answers into
// its buffers) would otherwise hold the node's request and its memory
// for as long as it likes. It is the write-side twin of deadlineBody.
type answerWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func newAnswerWriter(w http.ResponseWriter, idle time.Duration) *answerWriter {
	return &answerWriter{w: w, rc: http.NewResponseController(w), idle: idle}
}

func (a *answerWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), answerChunk)]
		// Not every writer supports deadlines (httptest's recorder does
		// not); there is nothing to enforce then.
		_ = a.rc.SetWriteDeadline(time.Now().Add(a.idle))
		m, err := a.w.Write(chunk)
		n += m
		if err != nil {
			return n, err
		}
		p = p[len(chunk):]
	}
	return n, nil
}

// finish sends what is buffered under the deadline, then lifts it: the
// connection may carry the next request, whose answer may come later
// than this deadline.
func (a *answerWriter) finish() {
	_ = a.rc.SetWriteDeadline(time.Now().Add(a.idle))
	_ = a.rc.Flush()
	_ = a.rc.SetWriteDeadline(time.Time{})
}
