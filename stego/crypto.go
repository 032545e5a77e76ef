package stego

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Key-derivation constants. They are part of the format: changing any
// of them makes existing images unreadable, so a change means a new
// version (see docs/format.md and argonTime).
const (
	saltSize = 16
	tagSize  = 16 // AES-GCM tag

	argonMemory  = 64 * 1024 // KiB
	argonThreads = 4

	// KDFMemory is what deriving a password's key allocates (Argon2id's
	// memory): callers with a memory budget reserve it for every
	// password embed and extract.
	KDFMemory = argonMemory << 10

	// publicKey is used when no password is given. It is public by design:
	// anyone with stegocluster can extract it.
	// It still makes the payload look like noise, so the image carries no
	// readable marker.
	publicKey = "stegocluster public key v1"

	infoPositions = "stegocluster v1 positions"
	infoAEAD      = "stegocluster v1 aead"
	aadHeader     = "stegocluster v1 header"
)

// positionSeed derives the 256-bit key of the sample permutation. It
// depends on the password only (there is nowhere to keep a salt before
// positions are known); guessing it gains an attacker nothing, because
// every guess must still pass the salted Argon2id and the AEAD tag.
func positionSeed(password string) ([32]byte, error) {
	var seed [32]byte
	key, err := hkdf.Key(sha256.New, keyMaterial(password), []byte(infoPositions), infoPositions, len(seed))
	if err != nil {
		return seed, fmt.Errorf("derive position seed: %w", err)
	}
	copy(seed[:], key)
	return seed, nil
}

func keyMaterial(password string) []byte {
	if password == "" {
		return []byte(publicKey)
	}
	return []byte(password)
}

// argonTime is Argon2id's number of passes in a container version: 1 in
// version 1; 3 from version 2, RFC 9106's second recommended profile
// (t=3, m=64 MiB), which triples what each guess of a password costs
// an attacker (docs/performance.md has what it costs an extract).
func argonTime(version byte) uint32 {
	if version == 1 {
		return 1
	}
	return 3
}

// newAEAD derives the per-image AEAD from the password (Argon2id with the
// image's random salt, as the container version says) or, without a
// password, from the public key (HKDF with the same salt, the same in
// every version: no work factor, the key is public anyway). The key is
// unique per salt, so the two fixed nonces below never repeat under one
// key.
func newAEAD(password string, salt []byte, version byte) (cipher.AEAD, error) {
	var master []byte
	if password == "" {
		prk, err := hkdf.Extract(sha256.New, []byte(publicKey), salt)
		if err != nil {
			return nil, fmt.Errorf("derive public master key: %w", err)
		}
		master = prk
	} else {
		master = argon2.IDKey([]byte(password), salt, argonTime(version), argonMemory, argonThreads, 32)
	}
	key, err := hkdf.Expand(sha256.New, master, infoAEAD, 32)
	if err != nil {
		return nil, fmt.Errorf("derive AEAD key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("AES key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("AES-GCM: %w", err)
	}
	return aead, nil
}

// nonce returns the fixed nonce for one of the two messages sealed under a
// per-image key: 0 for the header, 1 for the body.
func nonce(i byte) []byte {
	n := make([]byte, 12)
	n[11] = i
	return n
}
