package stego

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
)

// Container format version 3 (docs/format.md is the normative text).
//
// The first headerSamples samples in keyed order carry, one LSB each,
//
//	salt[16] ‖ AES-GCM(key, nonce 0, header[13], aad "stegocluster v1 header")
//
// and the body follows from sample headerSamples on, depth bits per
// sample, Hamming-coded with parameter k:
//
//	AES-GCM(key, nonce 1, nameLen ‖ name ‖ mimeLen ‖ mime ‖ data, aad header)
//
// The salt's samples sit at public positions; every other position, like
// the key, comes from the master key, which the password (Argon2id) or
// the public key (HKDF) gives with that salt (unitOrder). Versions 1 and
// 2 keyed all positions by the password alone.
//
// Nothing is readable without the key: the salt is random and the rest is
// ciphertext. The version sits inside the sealed header, so a reader
// recognises it by the layout and key that open the header:
// openContainer tries the current version first, then the older ones.
// Version 1 differs from 2 only in Argon2id's passes (argonTime).
const (
	formatVersion   = 3
	legacyVersion   = 2 // the last version whose positions the password alone keys
	headerPlainSize = 13
	headerSize      = saltSize + headerPlainSize + tagSize // bytes
	headerSamples   = 8 * headerSize                       // one bit per sample
	metaFixedSize   = 2                                    // the two length bytes
	maxMatrixK      = 16
	maxMetaField    = 255

	flagCompressed = 1 << 0
)

// header is the sealed part of the container: everything extraction needs
// to know before it can read the body.
type header struct {
	version  byte
	mode     Mode
	depth    int
	k        int    // Hamming parameter: k message bits per 2^k-1 slots
	flags    byte   // flagCompressed
	bodyLen  uint32 // sealed body size, tag included
	dataSize uint32 // secret data size before compression
}

func (h header) marshal() []byte {
	b := make([]byte, headerPlainSize)
	b[0] = h.version
	b[1] = byte(h.mode)
	b[2] = byte(h.depth)
	b[3] = byte(h.k)
	b[4] = h.flags
	binary.LittleEndian.PutUint32(b[5:], h.bodyLen)
	binary.LittleEndian.PutUint32(b[9:], h.dataSize)
	return b
}

// parseHeader validates a decrypted header. Since it passed the AEAD, a
// bad value here means a foreign writer, not noise; it still must not
// drive allocation or indexing out of range.
func parseHeader(b []byte) (header, error) {
	h := header{
		version:  b[0],
		mode:     Mode(b[1]),
		depth:    int(b[2]),
		k:        int(b[3]),
		flags:    b[4],
		bodyLen:  binary.LittleEndian.Uint32(b[5:]),
		dataSize: binary.LittleEndian.Uint32(b[9:]),
	}
	switch {
	case h.version < 1 || h.version > formatVersion,
		h.mode != ModeKeyed && h.mode != ModeSequential && h.mode != ModeAdaptive,
		h.depth < 1 || h.depth > 4,
		h.mode == ModeAdaptive && h.depth != 1,
		h.k < 1 || h.k > maxMatrixK,
		h.bodyLen < tagSize+metaFixedSize:
		return header{}, fmt.Errorf("%w: header fields out of range", ErrCorrupt)
	}
	return h, nil
}

// openContainer finds the container in r under password. It returns a
// kernel in the container's order, its header (parsed and as sealed) and
// the AEAD that opens its body. Version 3's layout is tried first, then
// the older versions', which share one order keyed by the password
// alone. With a password every try derives an Argon2id key: a version 3
// image costs one, a version 2 image two, a version 1 image, a wrong
// password or a clean image three; cancellation is checked before each.
// Nothing opens: ErrNoHiddenData, as for a clean image. A header that
// opens but is out of range, or names a version other than its layout's,
// is damage (ErrCorrupt), and no older version is tried. r must have
// more than headerSamples samples.
func openContainer(ctx context.Context, r *raster, password string) (*kernel, header, []byte, cipher.AEAD, error) {
	fixed, err := saltUnitsOf(r.dataSamples() / unitSize)
	if err != nil {
		return nil, header{}, nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, header{}, nil, nil, err
	}
	master, err := masterKey(password, readSalt(r, fixed), formatVersion)
	if err != nil {
		return nil, header{}, nil, nil, err
	}
	kern, aead, err := newSaltedKernel(r, master)
	if err != nil {
		return nil, header{}, nil, nil, err
	}
	h, plain, err := openHeader(aead, kern.readHeader(), func(v byte) bool { return v == formatVersion })
	if !errors.Is(err, ErrNoHiddenData) {
		return kern, h, plain, aead, err
	}

	seed, err := legacyPositionSeed(password)
	if err != nil {
		return nil, header{}, nil, nil, err
	}
	kern = newKernel(r, legacyUnitOrder(r.dataSamples()/unitSize, seed))
	raw := kern.readHeader()
	for v := byte(legacyVersion); v >= 1; v-- {
		if err := ctx.Err(); err != nil {
			return nil, header{}, nil, nil, err
		}
		master, err := masterKey(password, raw[:saltSize], v)
		if err != nil {
			return nil, header{}, nil, nil, err
		}
		aead, err := newAEAD(master)
		if err != nil {
			return nil, header{}, nil, nil, err
		}
		// Without a password every legacy version's key is the same, so
		// one try reads them all; with one, the version inside must be
		// the one whose key opened it.
		h, plain, err := openHeader(aead, raw, func(hv byte) bool { return hv == v || password == "" && hv <= legacyVersion })
		if !errors.Is(err, ErrNoHiddenData) {
			return kern, h, plain, aead, err
		}
		if password == "" {
			break
		}
	}
	return nil, header{}, nil, nil, ErrNoHiddenData
}

// newSaltedKernel binds r to version 3's order under an image's master
// key and returns it with the image's AEAD.
func newSaltedKernel(r *raster, master []byte) (*kernel, cipher.AEAD, error) {
	units := r.dataSamples() / unitSize
	fixed, err := saltUnitsOf(units)
	if err != nil {
		return nil, nil, err
	}
	seed, err := saltedPositionSeed(master)
	if err != nil {
		return nil, nil, err
	}
	aead, err := newAEAD(master)
	if err != nil {
		return nil, nil, err
	}
	return newKernel(r, saltedUnitOrder(units, fixed, seed)), aead, nil
}

// openHeader opens the sealed header in raw (salt ‖ sealed header) with
// aead and checks that the version inside is one the key's derivation
// allows (a header that opens under one version's key but names another
// was written by no stegocluster). It does not open: ErrNoHiddenData.
func openHeader(aead cipher.AEAD, raw []byte, allowed func(version byte) bool) (header, []byte, error) {
	plain, err := aead.Open(nil, nonce(0), raw[saltSize:], []byte(aadHeader))
	if err != nil {
		return header{}, nil, ErrNoHiddenData
	}
	h, err := parseHeader(plain)
	if err != nil {
		return header{}, nil, err
	}
	if !allowed(h.version) {
		return header{}, nil, fmt.Errorf("%w: a version %d header under another version's key", ErrCorrupt, h.version)
	}
	return h, plain, nil
}

// bodyPlain lays out the plaintext body.
func bodyPlain(name, mime string, data []byte) []byte {
	b := make([]byte, 0, metaFixedSize+len(name)+len(mime)+len(data))
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(mime)))
	b = append(b, mime...)
	return append(b, data...)
}

// parseBody splits a decrypted body and undoes compression (to at most
// maxSecret bytes), never
// producing more than the header's declared size.
func parseBody(h header, b []byte, maxSecret int) (*Secret, error) {
	var s Secret
	field := func() (string, error) {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return "", fmt.Errorf("%w: truncated metadata", ErrCorrupt)
		}
		v := string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
		return v, nil
	}
	var err error
	if s.Name, err = field(); err != nil {
		return nil, err
	}
	if s.MIME, err = field(); err != nil {
		return nil, err
	}
	if h.flags&flagCompressed == 0 {
		if int64(len(b)) != int64(h.dataSize) {
			return nil, fmt.Errorf("%w: data size %d, header says %d", ErrCorrupt, len(b), h.dataSize)
		}
		s.Data = b
		return &s, nil
	}
	s.Data, err = inflateBounded(b, h.dataSize, maxSecret)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// deflate compresses data and returns it only if that saves space and
// the result is at most limit bytes, so an incompressible secret costs
// nothing and Capacity stays exact. Compression stops as soon as the
// output passes either bound: a 50 MB upload that cannot fit costs
// little more than reading it.
func deflate(data []byte, limit int) ([]byte, bool) {
	bound := min(limit, len(data)-1)
	if len(data) < 64 || bound <= 0 {
		return data, false
	}
	out := &boundedBuffer{limit: bound}
	w, err := flate.NewWriter(out, flate.BestSpeed)
	if err != nil {
		return data, false
	}
	if _, err := w.Write(data); err != nil {
		return data, false
	}
	if err := w.Close(); err != nil {
		return data, false
	}
	return out.buf, true
}

var errBufferFull = errors.New("buffer full")

// boundedBuffer is a bytes.Buffer that refuses to grow past limit.
type boundedBuffer struct {
	buf   []byte
	limit int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > b.limit {
		return 0, errBufferFull
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// maxDeflateRatio is the most DEFLATE can expand its input: a 258-byte
// match costs at least two bits, so no stream yields more than 1032
// bytes per byte. A header that declares more than that is forged.
const maxDeflateRatio = 1032

// inflateBounded decompresses exactly size bytes; a stream that yields
// more or less is corrupt. The size comes from the hidden header, which
// anyone can forge when no password is used, so it is checked before
// anything is allocated: against what the compressed bytes could ever
// expand to, and against limit (ErrSecretTooLarge). Then exactly size
// bytes are allocated: a lying header within both bounds costs at most
// the limit, which the caller accounts for. The checks are made in 64
// bits: where int has 32, a forged size over 2 GiB would turn negative.
func inflateBounded(compressed []byte, size uint32, limit int) ([]byte, error) {
	if int64(size) > int64(len(compressed))*maxDeflateRatio {
		return nil, fmt.Errorf("%w: header declares %d bytes, more than %d compressed bytes can hold", ErrCorrupt, size, len(compressed))
	}
	if int64(size) > int64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrSecretTooLarge, size, limit)
	}
	// Both checks passed, so size is what the caller allowed for (and a
	// caller with a memory budget reserved): allocate exactly that. A
	// buffer grown as it fills would double past it, up to twice the
	// secret (a 40 MB secret held 64 MB).
	r := flate.NewReader(bytes.NewReader(compressed))
	defer r.Close()
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("%w: decompressed fewer bytes than the header's %d: %v", ErrCorrupt, size, err)
	}
	if n, _ := r.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("%w: decompressed more bytes than the header's %d", ErrCorrupt, size)
	}
	return out, nil
}

// layout is the geometry of one body: how many bits each sample carries,
// the Hamming parameter, and the body's size.
type layout struct {
	depth    int
	k        int
	bodyBits int // 8 * sealed body length
}

func (l layout) n() int           { return 1<<l.k - 1 }
func (l layout) blocks() int      { return (l.bodyBits + l.k - 1) / l.k }
func (l layout) slots() int       { return l.blocks() * l.n() }
func (l layout) samplesUsed() int { return (l.slots() + l.depth - 1) / l.depth }

// bodyCapacityBytes is the largest sealed body that fits at k = 1.
func bodyCapacityBytes(samples, depth int) int {
	if samples <= headerSamples {
		return 0
	}
	return (samples - headerSamples) * depth / 8
}

// bodyCapacity is the largest sealed body a mode embeds.
func bodyCapacity(samples, depth int, mode Mode) int {
	if mode == ModeAdaptive {
		return adaptiveBodyCapacityBytes(samples)
	}
	return bodyCapacityBytes(samples, depth)
}

// secretCapacity is the room for a secret's data, name and MIME type
// together: the body less its tag and two length bytes. It is negative
// when the cover cannot hold even an empty secret.
func secretCapacity(samples, depth int, mode Mode) int {
	return bodyCapacity(samples, depth, mode) - tagSize - metaFixedSize
}

// chooseK picks the largest Hamming parameter whose blocks still fit:
// embedding efficiency grows with k, so a small payload in a large cover
// changes far fewer samples than one bit per slot would.
func chooseK(bodyBits, bodySlots int) (int, bool) {
	best := 0
	for k := 1; k <= maxMatrixK; k++ {
		blocks := (bodyBits + k - 1) / k
		if int64(blocks)*(1<<k-1) <= int64(bodySlots) { // 64 bits: the product overflows a 32-bit int
			best = k
		}
	}
	return best, best > 0
}
