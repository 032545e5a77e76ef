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

	infoPositions     = "stegocluster v1 positions"
	infoSaltPositions = "stegocluster v3 salt positions"
	infoPositionsV3   = "stegocluster v3 positions"
	infoAEAD          = "stegocluster v1 aead"
	aadHeader         = "stegocluster v1 header"
)

// legacyPositionSeed derives the key of the sample permutation of
// versions 1 and 2 from the password alone: there was nowhere to keep a
// salt before positions were known. With the cover that let a guess be
// confirmed without Argon2id (docs/format.md, "Keys"); version 3 keys its
// positions with the salted master key instead (saltedPositionSeed).
func legacyPositionSeed(password string) ([32]byte, error) {
	return asSeed(hkdf.Key(sha256.New, keyMaterial(password), []byte(infoPositions), infoPositions, 32))
}

// saltPositionSeed derives the public key of the permutation that places
// version 3's salt. It is the same for every image and password: the
// salt must be readable before any key is.
func saltPositionSeed() ([32]byte, error) {
	return asSeed(hkdf.Key(sha256.New, []byte(publicKey), []byte(infoSaltPositions), infoSaltPositions, 32))
}

// saltedPositionSeed derives version 3's position seed from the image's
// master key, so that learning where a guessed password puts the header
// costs the guess's Argon2id, salted per image, like opening it does.
func saltedPositionSeed(master []byte) ([32]byte, error) {
	return asSeed(hkdf.Expand(sha256.New, master, infoPositionsV3, 32))
}

// asSeed takes a 32-byte HKDF output as a permutation's seed.
func asSeed(key []byte, err error) ([32]byte, error) {
	var seed [32]byte
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

// masterKey derives an image's master key from the password (Argon2id
// with the image's random salt, as the container version says) or,
// without a password, from the public key (HKDF with the same salt, the
// same in every version: no work factor, the key is public anyway).
func masterKey(password string, salt []byte, version byte) ([]byte, error) {
	if password == "" {
		prk, err := hkdf.Extract(sha256.New, []byte(publicKey), salt)
		if err != nil {
			return nil, fmt.Errorf("derive public master key: %w", err)
		}
		return prk, nil
	}
	return argon2.IDKey([]byte(password), salt, argonTime(version), argonMemory, argonThreads, 32), nil
}

// newAEAD derives the per-image AEAD from the master key. The key is
// unique per salt, so the two fixed nonces below never repeat under one
// key.
func newAEAD(master []byte) (cipher.AEAD, error) {
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
