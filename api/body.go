package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/worker"
)

// readStep is the most of an upload reserved and read at a time; the
// first piece is firstStep, and pieces double up to readStep. A buffer is
// never sized from the request's Content-Length, which the client may not
// honour: five stalled connections declaring 52 MB each once held 4 GB of
// heap that way.
const (
	firstStep = 16 << 10
	readStep  = 256 << 10
)

// readPart reads one form part into memory, reserving every buffer from
// res before allocating it, and refuses a part over limit (413). A part
// that fits its first piece is returned in it (the piece's whole
// capacity stays reserved: it is what the answer holds); a larger one is
// read in pieces and joined once, after which the pieces' reservation is
// given back.
func readPart(ctx context.Context, r io.Reader, limit int64, res *worker.Reservation) ([]byte, error) {
	var pieces [][]byte
	var total, reserved int64
	step := int64(firstStep)
	for {
		n := min(step, limit+1-total)
		if err := res.Grow(ctx, n); err != nil {
			return nil, err
		}
		reserved += n
		piece := make([]byte, n)
		got, err := io.ReadFull(r, piece)
		pieces = append(pieces, piece[:got])
		total += int64(got)
		if total > limit {
			return nil, errPartTooLarge
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		step = min(2*step, readStep)
	}
	if len(pieces) == 1 {
		return pieces[0], nil
	}
	if err := res.Grow(ctx, total); err != nil {
		return nil, err
	}
	out := make([]byte, 0, total)
	for _, p := range pieces {
		out = append(out, p...)
	}
	res.Shrink(reserved) // the pieces are garbage now
	return out, nil
}

// deadlineBody makes a client keep sending: a body that stalls for
// Config.BodyIdleTimeout, or is still arriving Config.BodyTimeout after
// the request began, is cut off (the read fails and the request gets
// 400), so a 1-byte-per-second upload cannot hold a connection and its
// memory. It extends the connection's read deadline by the idle timeout
// on every read that succeeds or ends the body, never past the overall
// one. A failed read leaves it passed: net/http reads what is left of a body before it
// sends the answer, and would otherwise wait out another idle timeout.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	until time.Time
}

func newDeadlineBody(w http.ResponseWriter, body io.ReadCloser, idle, total time.Duration) *deadlineBody {
	b := &deadlineBody{ReadCloser: body, rc: http.NewResponseController(w), idle: idle, until: time.Now().Add(total)}
	b.extend()
	return b
}

func (b *deadlineBody) extend() {
	// Not every writer supports deadlines (httptest's recorder does not);
	// there is nothing to enforce then.
	_ = b.rc.SetReadDeadline(earlier(time.Now().Add(b.idle), b.until))
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil || errors.Is(err, io.EOF) {
		// The end of the body counts as arrived: net/http starts its
		// background read there, under this deadline, until finish.
		b.extend()
	}
	if err != nil && !errors.Is(err, io.EOF) && time.Now().After(b.until) {
		return n, fmt.Errorf("request body still arriving at its deadline: %w", err)
	}
	return n, err
}

// finish widens the deadline to the request's overall one once the form
// has been read: the job that follows may take longer than the idle
// timeout, and net/http's background read would otherwise hit the
// deadline and cancel the request's context under it. It is not lifted
// altogether: whatever of the body net/http still reads after the
// handler (a stalled epilogue) must not wait forever.
func (b *deadlineBody) finish() { _ = b.rc.SetReadDeadline(b.until) }

// earlier is the earlier of two times.
func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// errPartTooLarge: a form part is over its limit (readPart's caller
// knows which part and answers 413).
var errPartTooLarge = errors.New("form part over its limit")

// limitBody caps the request body (multipart framing needs a little room
// beyond the file itself) and makes the client keep sending it (see
// deadlineBody).
func (s *Server) limitBody(c *gin.Context) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxUpload+64<<10)
	db := newDeadlineBody(c.Writer, body, s.cfg.BodyIdleTimeout, s.cfg.BodyTimeout)
	c.Request.Body = db
	c.Set(deadlineBodyKey, db)
	c.Next()
}

const deadlineBodyKey = "deadline_body"

// finishBody reads what is left of the body once the form is read (the
// multipart epilogue, a few bytes) and widens the read deadline (see
// deadlineBody.finish). Left unread, those bytes would make a node that
// dies just after answering (a SIGKILL) reset its connection instead of
// closing it: Linux discards what a socket has not yet sent when it is
// closed with unread data, and nginx would be left with half an answer
// it had begun to relay. After a failed read the body is left as it is,
// so the failed request's connection is not held open by its client.
func finishBody(c *gin.Context) {
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Request.Body, maxEpilogue))
	if db, ok := c.Get(deadlineBodyKey); ok {
		db.(*deadlineBody).finish()
	}
}

// maxEpilogue bounds what finishBody reads after the form: a multipart
// epilogue is a line break; anything longer is left to net/http.
const maxEpilogue = 4 << 10
