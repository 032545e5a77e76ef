package stego

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
)

// Mode selects where and how bits are embedded.
type Mode byte

const (
	// ModeKeyed (the default) spreads bits over samples chosen by a
	// keyed permutation, changes samples by ±1 (LSB matching) and uses
	// matrix coding, so small payloads change few samples.
	ModeKeyed Mode = 0
	// ModeSequential replaces LSBs in raster order, one bit per slot. It
	// is fast and easy to detect; it exists for comparison and as the
	// control that proves the detectors in Analyze work.
	ModeSequential Mode = 1
	// ModeAdaptive embeds where the image is busy: each sample gets a
	// HILL cost (cheap in texture and noise, dear in smooth regions), a
	// syndrome-trellis code carries the payload in the LSBs at close to
	// the least total cost, and the ±1 directions follow the changes
	// already made at the same pixel's other channels and at its
	// neighbours, so the channels' residuals stay consistent. Depth 1
	// only; it carries at most half of keyed mode's capacity and a hide
	// costs about 50× the CPU (docs/stealth.md says which to choose when).
	ModeAdaptive Mode = 2
)

func (m Mode) String() string {
	switch m {
	case ModeKeyed:
		return "keyed"
	case ModeSequential:
		return "sequential"
	case ModeAdaptive:
		return "adaptive"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

// ParseMode accepts "keyed" (or ""), "sequential" and "adaptive".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "keyed":
		return ModeKeyed, nil
	case "sequential":
		return ModeSequential, nil
	case "adaptive":
		return ModeAdaptive, nil
	}
	return 0, fmt.Errorf("%w: mode %q (want keyed, sequential or adaptive)", ErrInvalidOptions, s)
}

// Options control embedding and extraction. The zero value is the
// default: no password (built-in public key), depth 1, keyed mode,
// compression when it helps.
type Options struct {
	// Password encrypts the secret and keys the positions. Empty means
	// the built-in public key: anyone with stegocluster can extract.
	Password string
	// Depth is how many low bits of each sample may carry data, 1–4
	// (0 means 1). More depth, more capacity, less stealth. Extraction
	// reads the depth from the image and ignores this.
	Depth int
	// Mode is ModeKeyed unless set. Extraction ignores it.
	Mode Mode
	// DisableCompression stores the secret as is even if it compresses.
	DisableCompression bool
	// MaxSecretSize is the largest secret Extract will decompress, in
	// bytes (DefaultMaxSecretSize when 0). The size is declared inside the
	// image, so without it whoever made the image would choose how much
	// memory extraction allocates. Embed ignores it.
	MaxSecretSize int
}

// DefaultMaxSecretSize bounds a decompressed secret when
// Options.MaxSecretSize is 0: above the 50 MB a node accepts as upload.
const DefaultMaxSecretSize = 64 << 20

func (o Options) maxSecretSize() int {
	if o.MaxSecretSize > 0 {
		return o.MaxSecretSize
	}
	return DefaultMaxSecretSize
}

func (o Options) depth() (int, error) {
	switch {
	case o.Depth == 0:
		return 1, nil
	case o.Depth < 1 || o.Depth > 4:
		return 0, fmt.Errorf("%w: depth %d (want 1–4)", ErrInvalidOptions, o.Depth)
	}
	return o.Depth, nil
}

// Secret is what gets hidden: bytes plus the file name and MIME type that
// extraction gives back. Name and MIME are at most 255 bytes each and
// count against the capacity.
type Secret struct {
	Name string
	MIME string
	Data []byte
	// Version is the container format version Extract read the secret
	// from (docs/format.md); Embed ignores it and writes the current one.
	Version int
}

// VersionNote is what a user should know about a secret extracted with a
// password from an image of the given container version, or "" if
// nothing: before version 3 the password alone placed the samples, so
// anyone who also has the cover can test guesses without Argon2id.
func VersionNote(version int, password bool) string {
	if !password || version > legacyVersion {
		return ""
	}
	return fmt.Sprintf("this image uses container format version %d, whose positions come from the password alone: anyone who also has the cover can test password guesses fast; hide the secret again to get version %d", version, formatVersion)
}

// Size is the number of bytes the secret takes out of Capacity before
// compression: its data, name and MIME type.
func (s Secret) Size() int { return len(s.Data) + len(s.Name) + len(s.MIME) }

// Stats describes an embedding.
type Stats struct {
	Capacity       int     // Capacity of the cover under these options (data, name and MIME type together)
	PayloadBytes   int     // sealed bytes in the image: header, metadata, data, tags
	Compressed     bool    // the data was stored compressed
	MatrixK        int     // Hamming parameter chosen (1 means no matrix coding; 0 in adaptive mode, which codes with STC)
	SamplesUsed    int     // samples that carry data, header included
	ChangedSamples int     // samples whose value changed
	BitsPerChannel float64 // payload bits per data sample of the cover
	Depth          int
	Mode           Mode
}

// Embed hides secret in a copy of cover and returns the copy; cover is
// not modified. A secret whose data is over DataCapacity for its name and
// MIME type (and does not compress to within it) gives a *CapacityError
// (matching ErrTooLarge). Embed uses up to GOMAXPROCS goroutines; if ctx
// is cancelled it stops promptly and returns ctx.Err(), with every
// goroutine finished.
func Embed(ctx context.Context, cover *Image, secret Secret, opts Options) (*Image, Stats, error) {
	out := cover.Clone()
	stats, err := EmbedInPlace(ctx, out, secret, opts)
	if err != nil {
		return nil, Stats{}, err
	}
	return out, stats, nil
}

// Clone returns a deep copy of the image.
func (m *Image) Clone() *Image { return m.CloneInto(nil) }

// CloneInto is Clone into dst's memory: it makes dst a deep copy of m,
// reusing dst's pixel buffer when it is large enough, and returns dst (a
// new image when dst is nil). A server that hides into one shared cover
// recycles its copies this way instead of allocating megabytes a request.
// The recorded PNG layout is shared, not copied: nothing modifies it.
func (m *Image) CloneInto(dst *Image) *Image {
	if dst == nil {
		dst = new(Image)
	}
	var pix []byte
	if dst.r != nil {
		pix = dst.r.pix
	}
	r := *m.r
	r.pix = append(pix[:0], m.r.pix...)
	*dst = Image{r: &r, pngLayout: m.pngLayout, SourceFormat: m.SourceFormat, Notes: append(dst.Notes[:0], m.Notes...), lossyWebP: m.lossyWebP, Public: m.Public}
	return dst
}

// EmbedInPlace is Embed without the copy: it hides secret in cover
// itself, for callers that do not need the clean cover afterwards. On any
// error cover is unchanged, except after cancellation, when it may be
// partly embedded and should be discarded.
func EmbedInPlace(ctx context.Context, cover *Image, secret Secret, opts Options) (Stats, error) {
	d, err := opts.depth()
	if err != nil {
		return Stats{}, err
	}
	room, err := DataCapacity(cover, opts, secret.Name, secret.MIME)
	var short *CapacityError
	if errors.As(err, &short) {
		short.Needed += len(secret.Data) // the name and MIME type alone were over
		return Stats{}, short
	}
	if err != nil {
		return Stats{}, err
	}
	meta := len(secret.Name) + len(secret.MIME)
	data, compressed := secret.Data, false
	if !opts.DisableCompression {
		data, compressed = deflate(secret.Data, room)
	}
	samples := cover.r.dataSamples()
	bodyLen := metaFixedSize + meta + len(data) + tagSize
	// The body test restates the room test in the container's terms, as a
	// guard on the sealed body's size should the two ever disagree.
	if len(data) > room || bodyLen > bodyCapacity(samples, d, opts.Mode) || uint64(len(secret.Data)) > math.MaxUint32 {
		return Stats{}, &CapacityError{Needed: len(data), Available: room, Metadata: meta}
	}
	k := 1
	switch opts.Mode {
	case ModeKeyed:
		k, _ = chooseK(8*bodyLen, (samples-headerSamples)*d)
	case ModeAdaptive:
		k = stcHeight // the k byte holds the trellis's constraint height
	}
	h := header{
		version:  formatVersion,
		mode:     opts.Mode,
		depth:    d,
		k:        k,
		bodyLen:  uint32(bodyLen),
		dataSize: uint32(len(secret.Data)),
	}
	if compressed {
		h.flags |= flagCompressed
	}

	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return Stats{}, fmt.Errorf("generate salt: %w", err)
	}
	master, err := masterKey(opts.Password, salt, formatVersion)
	if err != nil {
		return Stats{}, err
	}
	kern, aead, err := newSaltedKernel(cover.r, master)
	if err != nil {
		return Stats{}, err
	}
	plainHeader := h.marshal()
	sealedHeader := append(salt, aead.Seal(nil, nonce(0), plainHeader, []byte(aadHeader))...)
	body := aead.Seal(nil, nonce(1), bodyPlain(secret.Name, secret.MIME, data), plainHeader)

	var changed, used int
	if opts.Mode == ModeAdaptive {
		rng, err := newTieRand()
		if err != nil {
			return Stats{}, err
		}
		if changed, err = embedAdaptive(ctx, cover.r, kern.order, body, k, rng); err != nil {
			return Stats{}, err
		}
		changed += kern.writeHeader(sealedHeader, rng)
		used, k = samples-headerSamples, 0
	} else {
		kern.setBody(opts.Mode, layout{depth: d, k: k, bodyBits: 8 * bodyLen})
		if changed, err = kern.embed(ctx, body, sealedHeader); err != nil {
			return Stats{}, err
		}
		used = kern.layout.samplesUsed()
	}
	return Stats{
		Capacity:       room + meta,
		PayloadBytes:   headerSize + bodyLen,
		Compressed:     compressed,
		MatrixK:        k,
		SamplesUsed:    headerSamples + used,
		ChangedSamples: changed,
		BitsPerChannel: float64(8*(headerSize+bodyLen)) / float64(samples),
		Depth:          d,
		Mode:           opts.Mode,
	}, nil
}

// Extract recovers the secret hidden in img under opts.Password. A clean
// image and a wrong password both give ErrNoHiddenData; hidden data that
// was found but modified gives ErrCorrupt. Extract never returns data
// that failed its integrity check. Cancellation is as for Embed.
func Extract(ctx context.Context, img *Image, opts Options) (*Secret, error) {
	samples := img.r.dataSamples()
	if samples <= headerSamples {
		return nil, ErrNoHiddenData
	}
	kern, h, plainHeader, aead, err := openContainer(ctx, img.r, opts.Password)
	if err != nil {
		return nil, err
	}
	// The declared length and layout are checked in 64 bits: where int
	// has 32, a forged 2 GiB would turn negative, and a forged k's slot
	// count overflow.
	tooLong := fmt.Errorf("%w: header declares %d bytes, more than the image holds", ErrCorrupt, h.bodyLen)
	if int64(h.bodyLen) > int64(bodyCapacity(samples, h.depth, h.mode)) {
		return nil, tooLong
	}
	l := layout{depth: h.depth, k: h.k, bodyBits: 8 * int(h.bodyLen)}
	if h.mode != ModeAdaptive && int64(l.blocks())*int64(l.n()) > int64(samples-headerSamples)*int64(l.depth) {
		return nil, tooLong // more slots than samples: l.slots() may not fit an int
	}
	var sealed []byte
	if h.mode == ModeAdaptive {
		sealed, err = extractAdaptive(ctx, img.r, kern.order, int(h.bodyLen), h.k)
	} else {
		kern.setBody(h.mode, l)
		sealed, err = kern.extractBody(ctx)
	}
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(sealed[:0], nonce(1), sealed, plainHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: integrity check failed", ErrCorrupt)
	}
	secret, err := parseBody(h, plain, opts.maxSecretSize())
	if err != nil {
		return nil, err
	}
	secret.Version = int(h.version)
	return secret, nil
}

// AnalyzeImage is Analyze for images already decoded with Decode; cover
// may be nil. Unlike Analyze it keeps gray-with-alpha images as one
// channel, exactly the samples the embedder sees.
func AnalyzeImage(img, cover *Image) (*Analysis, error) {
	var c *raster
	if cover != nil {
		c = cover.r
	}
	return analyzeRaster(img.r, c)
}
