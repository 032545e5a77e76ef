package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stegocluster/stegocluster/internal/testenv"
	"github.com/stegocluster/stegocluster/worker"
)

// budgetServer is an API server with the given memory budget and body
// timeouts, served over real HTTP (deadlines need a real connection).
func budgetServer(t *testing.T, budget int64, idle time.Duration) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(Config{NodeID: "n1", Cluster: newFakeCluster(), Pool: worker.NewPool(2, 4), AdminToken: testToken,
		MaxUpload: 60 << 20, MemoryBudget: budget, BudgetWait: 100 * time.Millisecond, BodyIdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

// stalledUpload opens a connection that declares a contentLength-byte
// multipart upload, sends its first kilobyte and then nothing.
func stalledUpload(t *testing.T, addr string, contentLength int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
	fmt.Fprintf(conn, "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n%s%s",
		contentLength, head, strings.Repeat("x", 1024))
	return conn
}

// A client's Content-Length never sizes a buffer: five connections that
// declare 52 MB and stall hold what they sent, not what they declared.
func TestStalledUploadsHoldWhatTheySent(t *testing.T) {
	s, srv := budgetServer(t, 512<<20, time.Minute)
	addr := strings.TrimPrefix(srv.URL, "http://")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 5 {
		stalledUpload(t, addr, 52<<20)
	}
	time.Sleep(300 * time.Millisecond) // let the handlers read what arrived
	runtime.ReadMemStats(&after)
	if held := s.budget.Held(); held > 5*readStep {
		t.Fatalf("5 stalled 52 MB uploads hold %d bytes of the budget; at most %d expected", held, 5*readStep)
	}
	// Not just the accounting: the allocator agrees.
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 16<<20 {
		t.Fatalf("5 stalled 52 MB uploads made the node allocate %d MB", allocated>>20)
	}
}

// A body that stops arriving is cut off after the idle timeout, once,
// and its reservation is returned. The failed read used to extend the
// deadline again, and net/http, which reads what is left of a body
// before it sends the answer, waited out a second idle timeout.
func TestStalledBodyIsCutOff(t *testing.T) {
	const idle = time.Second
	s, srv := budgetServer(t, 512<<20, idle)
	conn := stalledUpload(t, strings.TrimPrefix(srv.URL, "http://"), 10<<20)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("a stalled upload got %d", resp.StatusCode)
		}
		// The error says what happened, not the node's address.
		if !strings.Contains(string(body), "stalled") || strings.Contains(string(body), "127.0.0.1") {
			t.Fatalf("a stalled upload's answer: %s", body)
		}
	}
	if took := time.Since(start); took > idle*19/10 {
		t.Fatalf("a stalled upload held its connection for %s; the idle timeout is %s", took, idle)
	}
	testenv.WaitFor(t, 2*time.Second, "the stalled request's reservation to be returned", func() bool { return s.budget.Held() == 0 })
}

func coverPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	copy(m.Pix, testenv.RandomBytes(len(m.Pix), 5))
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// What does not fit the budget is refused instead of allocated: 413 when
// it never could, 503 with Retry-After when others hold the memory.
func TestBudgetRefusesWhatItCannotHold(t *testing.T) {
	cover := coverPNG(t, 600, 600) // decodes to ~4 MB of working memory
	tests := []struct {
		name     string
		budget   int64
		heldBy   int64 // bytes another request holds meanwhile
		wantCode int
	}{
		{"fits", 64 << 20, 0, http.StatusOK},
		{"larger than the whole budget", 2 << 20, 0, http.StatusRequestEntityTooLarge},
		{"budget held by others", 64 << 20, 63 << 20, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := budgetServer(t, tt.budget, time.Minute)
			other := s.budget.Reserve()
			defer other.Release()
			if err := other.Grow(context.Background(), tt.heldBy); err != nil {
				t.Fatal(err)
			}
			rec := post(t, s, "/api/embed", nil, part{"file", "a.txt", []byte("meet at dawn")}, part{"cover", "c.png", cover})
			if rec.Code != tt.wantCode {
				t.Fatalf("embed: %d %s, want %d", rec.Code, rec.Body, tt.wantCode)
			}
			if rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if held := s.budget.Held(); held != tt.heldBy {
				t.Fatalf("after the request the budget holds %d, want the other request's %d", held, tt.heldBy)
			}
		})
	}
}

// A client that stops reading its answer is cut off after the idle
// timeout too, and the request's reservation is returned: otherwise a
// client reaching the node directly (or an answer larger than nginx
// buffers) could hold the node's memory for as long as it kept the
// connection open.
func TestStalledReaderIsCutOff(t *testing.T) {
	s, srv := budgetServer(t, 512<<20, 300*time.Millisecond)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, data := range map[string][]byte{"cover": coverPNG(t, 1500, 1500), "file": []byte("a secret")} {
		w, err := mw.CreateFormFile(name, name+".bin")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	mw.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096) // the answer (6.8 MB) cannot hide in socket buffers
	fmt.Fprintf(conn, "POST /api/embed?format=png HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		mw.FormDataContentType(), body.Len())
	if _, err := conn.Write(body.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("embed: %v %v", resp, err)
	}
	// Read nothing more: the node must give up on us.
	testenv.WaitFor(t, 5*time.Second, "the stalled reader's request to end and return its reservation", func() bool {
		return s.budget.Held() == 0
	})
}

// TestPooledAnswerBufferBounded: after a hide into a big cover, the
// answer buffer it grew is not kept for the next hide, outside every
// reservation.
func TestPooledAnswerBufferBounded(t *testing.T) {
	s, _ := newTestServer(t, worker.NewPool(1, 1))
	var cover bytes.Buffer
	if err := png.Encode(&cover, image.NewNRGBA(image.Rect(0, 0, 3000, 3000))); err != nil {
		t.Fatal(err)
	}
	rec := post(t, s, "/api/embed?format=png", nil, part{"file", "a.txt", []byte("x")}, part{"cover", "c.png", cover.Bytes()})
	if rec.Code != http.StatusOK {
		t.Fatalf("embed: %d %s", rec.Code, rec.Body)
	}
	if b, _ := s.answers.Get().(*bytes.Buffer); b != nil && int64(b.Cap()) > 2*s.cover.EncodedSize() {
		t.Fatalf("a %d MB answer buffer stayed in the pool", b.Cap()>>20)
	}
}
