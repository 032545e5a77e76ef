package stego

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// fuzzSeeds are small valid and almost-valid images; with `go test` (no
// -fuzz) they run as ordinary test cases.
func fuzzSeeds(f *testing.F) {
	for _, g := range goldens() {
		if data, err := os.ReadFile(g.file); err == nil {
			f.Add(data)
			f.Add(data[:len(data)/3])
		}
	}
	for _, name := range []string{"testdata/blue-purple-pink.lossy.webp"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add(pngWithHeader(100000, 100000))
	f.Add(pngWithHeader(3, 3))
	f.Add([]byte("GIF89a"))
	f.Add([]byte("BM"))
	f.Add([]byte{})
}

// FuzzDecode: any bytes decode to an image or to a typed error, without
// panicking or allocating beyond the pixel cap.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedFormat) && !errors.Is(err, ErrCoverTooLarge) {
				t.Fatalf("untyped decode error: %v", err)
			}
			return
		}
		if err := img.Encode(&bytes.Buffer{}, PNG); err != nil {
			t.Fatalf("re-encode a decoded image: %v", err)
		}
	})
}

// FuzzExtract: extraction from any image gives data or a typed error,
// never a panic or a hang.
func FuzzExtract(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, 1<<20)
		if err != nil {
			return
		}
		for _, password := range []string{"", "golden password v1"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := Extract(ctx, img, Options{Password: password})
			cancel()
			if err != nil && !errors.Is(err, ErrNoHiddenData) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("untyped extract error: %v", err)
			}
		}
	})
}
