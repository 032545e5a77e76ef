package stego

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stegocluster/stegocluster/internal/testenv"
)

// TestDataCapacity covers what TestCapacityIsExact does not: names and
// MIME types that do not fit at all, and the limits on their length.
// Each case's figure is checked against Embed itself.
func TestDataCapacity(t *testing.T) {
	ctx := context.Background()
	small := &Image{r: noiseRaster(40, 30, 1, false, false, 5)} // 1,200 samples
	room := (1200-headerSamples)/8 - tagSize - metaFixedSize    // 85 bytes
	cases := []struct {
		name      string
		cover     *Image
		file      string
		mimeType  string
		want      int   // data bytes that fit
		shortfall int   // when want is 0 and nothing fits: by how much
		wantErr   error // nil, ErrTooLarge or ErrInvalidOptions
	}{
		{"no metadata", small, "", "", room, 0, nil},
		{"name and type", small, "cap.bin", "application/octet-stream", room - 7 - 24, 0, nil},
		{"metadata fills the room", small, strings.Repeat("n", room-10), "text/plain", 0, 0, nil},
		{"metadata over the room", small, strings.Repeat("n", room-9), "text/plain", 0, 1, ErrTooLarge},
		{"tiny cover", &Image{r: noiseRaster(4, 4, 1, false, false, 1)}, "", "", 0, tagSize + metaFixedSize, ErrTooLarge},
		{"255-byte name", &Image{r: noiseRaster(100, 100, 3, false, false, 1)}, strings.Repeat("n", 255), "", (30000-headerSamples)/8 - tagSize - metaFixedSize - 255, 0, nil},
		{"256-byte name", small, strings.Repeat("n", 256), "", 0, 0, ErrInvalidOptions},
		{"256-byte type", small, "", strings.Repeat("t", 256), 0, 0, ErrInvalidOptions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DataCapacity(tc.cover, Options{}, tc.file, tc.mimeType)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("DataCapacity = %d, %v; want %d, %v", got, err, tc.want, tc.wantErr)
			}
			var ce *CapacityError
			if errors.As(err, &ce) && (ce.Needed-ce.Available != tc.shortfall || ce.Metadata != len(tc.file)+len(tc.mimeType)) {
				t.Fatalf("CapacityError %+v, want a shortfall of %d", ce, tc.shortfall)
			}
			// Embed agrees: the figure fits, one byte more does not, and
			// when nothing fits an empty secret gives the same error.
			secret := Secret{Name: tc.file, MIME: tc.mimeType, Data: testenv.RandomBytes(got, 2)}
			_, _, embedErr := Embed(ctx, tc.cover, secret, Options{})
			if tc.wantErr != nil {
				if !errors.Is(embedErr, tc.wantErr) {
					t.Fatalf("Embed of %d bytes: %v, want %v", got, embedErr, tc.wantErr)
				}
				if ce != nil {
					var ee *CapacityError
					if !errors.As(embedErr, &ee) || *ee != *ce {
						t.Fatalf("Embed's error %v differs from DataCapacity's %+v", embedErr, ce)
					}
				}
				return
			}
			if embedErr != nil {
				t.Fatalf("Embed of exactly %d bytes: %v", got, embedErr)
			}
			if fits, err := Fits(tc.cover, secret, Options{}); !fits || err != nil {
				t.Fatalf("Fits(%d bytes) = %t, %v; Embed took them", got, fits, err)
			}
			secret.Data = testenv.RandomBytes(got+1, 2)
			if fits, err := Fits(tc.cover, secret, Options{}); fits || err != nil {
				t.Fatalf("Fits(%d random bytes) = %t, %v; want false", got+1, fits, err)
			}
			_, _, embedErr = Embed(ctx, tc.cover, secret, Options{})
			var ce2 *CapacityError
			if !errors.As(embedErr, &ce2) || ce2.Needed != got+1 || ce2.Available != got {
				t.Fatalf("Embed of %d bytes: %v, want needed %d available %d", got+1, embedErr, got+1, got)
			}
		})
	}
}

// TestFitsCountsCompression: data over the figure fits when it
// compresses into it, as Embed stores it, and not when compression is off.
func TestFitsCountsCompression(t *testing.T) {
	cover := &Image{r: noiseRaster(40, 30, 3, false, false, 5)}
	room, err := DataCapacity(cover, Options{}, "zeros.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	secret := Secret{Name: "zeros.bin", Data: make([]byte, 4*room)}
	for _, tc := range []struct {
		opts Options
		want bool
	}{{Options{}, true}, {Options{DisableCompression: true}, false}} {
		fits, err := Fits(cover, secret, tc.opts)
		_, _, embedErr := Embed(context.Background(), cover, secret, tc.opts)
		if fits != tc.want || err != nil || (embedErr == nil) != tc.want {
			t.Errorf("%+v: Fits = %t, %v; Embed: %v; want fits %t", tc.opts, fits, err, embedErr, tc.want)
		}
	}
}

// TestChooseK: the largest matrix-code k whose blocks fit the slots,
// for payloads of photographs whose blocks×(2^k−1) overflow a 32-bit
// int at large k (.ci/run runs this on 386 too): an overflow there
// chose a k that did not fit, and embedding panicked.
func TestChooseK(t *testing.T) {
	fits := func(bits, slots, k int) bool {
		return int64((bits+k-1)/k)*int64(1<<k-1) <= int64(slots)
	}
	for _, tc := range []struct{ bits, slots int }{
		{8 * 100, 1000},
		{8 * 4 << 10, 1_843_200},    // 4 KB into the built-in cover
		{8 * 100 << 10, 6_220_800},  // 100 KB into a 1920×1080 photo
		{8 * 300 << 10, 50_000_000}, // 300 KB into a 16.7-megapixel photo
		{8 * 2 << 20, 150_000_000},  // 2 MB into a 50-megapixel photo
		{1_000_000, 1_000_000},
		{1_000_001, 1_000_000},
	} {
		k, ok := chooseK(tc.bits, tc.slots)
		switch {
		case !ok && fits(tc.bits, tc.slots, 1):
			t.Errorf("chooseK(%d, %d): none, but k = 1 fits", tc.bits, tc.slots)
		case ok && !fits(tc.bits, tc.slots, k):
			t.Errorf("chooseK(%d, %d) = %d, which does not fit", tc.bits, tc.slots, k)
		case ok && k < maxMatrixK && fits(tc.bits, tc.slots, k+1):
			t.Errorf("chooseK(%d, %d) = %d, but %d fits too", tc.bits, tc.slots, k, k+1)
		}
	}
}
