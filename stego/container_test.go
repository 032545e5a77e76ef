package stego

import (
	"context"
	"crypto/cipher"
	"errors"
	"os"
	"strings"
	"testing"
)

// Someone who has the cover sees which samples an embedding changed. A
// guessed password is confirmed if the header positions it gives are
// where about half the samples changed (the header's bits are random, so
// LSB matching changes half of them); elsewhere only the body's few
// changes show. Up to version 2 the positions came from the password
// alone, so that check cost one HKDF a guess; from version 3 it needs
// the guess's Argon2id over the image's salt, as opening the header
// does. The version 2 golden is the control: the same check confirms its
// password cheaply.
func TestKnownCoverGuessNeedsArgon2(t *testing.T) {
	cover, err := FromImage(photoCrop(t, 120, 90)) // the goldens' cover
	if err != nil {
		t.Fatal(err)
	}
	units := cover.r.dataSamples() / unitSize
	for _, c := range []struct {
		file, password string
		cheapConfirms  bool
	}{
		{"testdata/golden-v2-keyed-password.png", "golden password v2", true},
		{"testdata/golden-v3-keyed-password.png", "golden password v3", false},
		{"testdata/golden-v3-sequential-password.png", "golden password v3 sequential", false},
		{"testdata/golden-v3-adaptive-password.png", "golden password v3 adaptive", false},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			changedAt := func(order unitOrder, from int) float64 {
				o := newSampleOrder(cover.r.dataSamples(), order, ModeKeyed)
				changed := 0
				for i := from; i < headerSamples; i++ {
					s := o.headerSample(i)
					if cover.r.sample(s) != img.r.sample(s) {
						changed++
					}
				}
				return float64(changed) / float64(headerSamples-from)
			}

			seed, err := legacyPositionSeed(c.password)
			if err != nil {
				t.Fatal(err)
			}
			cheap := changedAt(legacyUnitOrder(units, seed), 0)
			t.Logf("samples changed at the header positions the password alone gives: %.2f", cheap)
			if confirmed := cheap > 0.35; confirmed != c.cheapConfirms {
				t.Fatalf("the cheap check confirms the password: %v, want %v", confirmed, c.cheapConfirms)
			}
			if c.cheapConfirms {
				return
			}
			// The attacker who pays for Argon2id finds the header, the
			// salt's public positions included: the check is real.
			fixed, err := saltUnitsOf(units)
			if err != nil {
				t.Fatal(err)
			}
			master, err := masterKey(c.password, readSalt(img.r, fixed), formatVersion)
			if err != nil {
				t.Fatal(err)
			}
			kern, _, err := newSaltedKernel(img.r, master)
			if err != nil {
				t.Fatal(err)
			}
			costly := changedAt(kern.units, 8*saltSize)
			t.Logf("samples changed at the header positions the salted key gives: %.2f", costly)
			if costly < 0.35 {
				t.Fatalf("%.2f of the samples at the real header positions changed; the check above proves nothing", costly)
			}
		})
	}
}

// A header names the version whose layout and key opened it. Anyone can
// seal a header under the public key, so one naming another version is
// refused as damage, and no older layout is tried after it.
func TestHeaderVersionMustMatchItsLayout(t *testing.T) {
	r := noiseRaster(60, 40, 3, false, false, 7)
	units := r.dataSamples() / unitSize
	legacySeed, err := legacyPositionSeed("")
	if err != nil {
		t.Fatal(err)
	}
	seal := func(kern *kernel, aead cipher.AEAD, salt []byte, version byte) *Image {
		h := header{version: version, mode: ModeKeyed, depth: 1, k: 1, bodyLen: tagSize + metaFixedSize}
		rng, err := newTieRand()
		if err != nil {
			t.Fatal(err)
		}
		kern.writeHeader(append(append([]byte{}, salt...), aead.Seal(nil, nonce(0), h.marshal(), []byte(aadHeader))...), rng)
		return &Image{r: kern.r}
	}
	for _, tc := range []struct {
		name     string
		layout   byte // 3: the current layout; 2: the older one
		version  byte
		mismatch bool
	}{
		{"current layout naming version 2", 3, 2, true},
		{"current layout naming version 1", 3, 1, true},
		{"older layout naming version 3", 2, 3, true},
		{"older layout naming version 2 (the control)", 2, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			salt := []byte("sixteen byte slt")
			var img *Image
			if tc.layout == formatVersion {
				kern, aead := currentKernel(t, r.clone(), "", salt)
				img = seal(kern, aead, salt, tc.version)
			} else {
				master, err := masterKey("", salt, tc.layout)
				if err != nil {
					t.Fatal(err)
				}
				aead, err := newAEAD(master)
				if err != nil {
					t.Fatal(err)
				}
				img = seal(newKernel(r.clone(), legacyUnitOrder(units, legacySeed)), aead, salt, tc.version)
			}
			_, err := Extract(context.Background(), img, Options{})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if got := strings.Contains(err.Error(), "under another version's key"); got != tc.mismatch {
				t.Fatalf("err = %v; refused for its version: %v, want %v", err, got, tc.mismatch)
			}
		})
	}
}
