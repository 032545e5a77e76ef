package stego

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"runtime"
	"testing"
)

// compressedZeros is n zero bytes, deflated: the best-compressing input
// there is, so the shape of a decompression bomb.
func compressedZeros(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// allocatedBy reports the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The size a hidden header declares is chosen by whoever made the image
// (without a password anyone can), so it must never decide what
// extraction allocates: a forged size is refused before allocating, and a
// real bomb stops at the limit.
func TestHiddenSizeCannotDriveAllocation(t *testing.T) {
	const limit = 8 << 20
	small := compressedZeros(t, 1000)
	bomb := compressedZeros(t, limit+1)
	tests := []struct {
		name      string
		dataSize  uint32
		data      []byte
		wantErr   error
		maxAlloc  uint64 // bytes parseBody may allocate
		wantBytes int
	}{
		{"4 GiB declared over 1000 compressed zeros", 1<<32 - 1, small, ErrCorrupt, 64 << 10, 0},
		{"declared size larger than the stream yields", 900_000, small, ErrCorrupt, 2 << 20, 0},
		{"a real bomb one byte over the limit", limit + 1, bomb, ErrSecretTooLarge, 64 << 10, 0},
		{"honest, within the limit", 1000, small, nil, 2 << 20, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := header{flags: flagCompressed, dataSize: tt.dataSize}
			body := bodyPlain("a.bin", "application/octet-stream", tt.data)
			var s *Secret
			var err error
			alloc := allocatedBy(func() { s, err = parseBody(h, body, limit) })
			if !errors.Is(err, tt.wantErr) && (err != nil || tt.wantErr != nil) {
				t.Fatalf("parseBody: %v, want %v", err, tt.wantErr)
			}
			if alloc > tt.maxAlloc {
				t.Fatalf("parseBody allocated %d bytes (at most %d allowed) for a %d-byte stream declaring %d", alloc, tt.maxAlloc, len(tt.data), tt.dataSize)
			}
			if err == nil && len(s.Data) != tt.wantBytes {
				t.Fatalf("got %d bytes, want %d", len(s.Data), tt.wantBytes)
			}
		})
	}
}

// Extract honours Options.MaxSecretSize for a secret that really is
// larger, and a larger limit lets the same image through.
func TestExtractRefusesSecretsAboveTheLimit(t *testing.T) {
	cover := &Image{r: noiseRaster(400, 300, 3, false, false, 7)}
	secret := Secret{Name: "zeros.bin", Data: make([]byte, 200_000)} // compresses to a few hundred bytes
	stego, _, err := Embed(context.Background(), cover, secret, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(context.Background(), stego, Options{MaxSecretSize: 100_000}); !errors.Is(err, ErrSecretTooLarge) {
		t.Fatalf("extract with a 100 kB limit: %v, want ErrSecretTooLarge", err)
	}
	got, err := Extract(context.Background(), stego, Options{MaxSecretSize: 200_000})
	if err != nil || len(got.Data) != len(secret.Data) {
		t.Fatalf("extract with a 200 kB limit: %v", err)
	}
}
