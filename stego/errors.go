package stego

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the API maps each to
// an HTTP status. Errors returned by this package wrap one of these
// whenever the cause is the input rather than the machine.
var (
	// ErrTooLarge: the secret does not fit the cover. The error is a
	// *CapacityError carrying the needed and available byte counts.
	ErrTooLarge = errors.New("stego: secret too large for cover")
	// ErrNoHiddenData: nothing is hidden under this password. A clean
	// image and a wrong password give this same error on purpose, so a
	// guess reveals nothing.
	ErrNoHiddenData = errors.New("stego: no hidden data found (or wrong password)")
	// ErrCorrupt: hidden data was found under this password but its
	// integrity check failed — the image was modified after embedding.
	ErrCorrupt = errors.New("stego: hidden data is damaged")
	// ErrUnsupportedFormat: the bytes are not an image we can read, or
	// the requested output format cannot hold this image.
	ErrUnsupportedFormat = errors.New("stego: unsupported image format")
	// ErrCoverTooLarge: the image declares more pixels than allowed; it
	// was refused before its pixels were decoded.
	ErrCoverTooLarge = errors.New("stego: image has too many pixels")
	// ErrInvalidOptions: an option is out of range (depth, mode, …).
	ErrInvalidOptions = errors.New("stego: invalid options")
	// ErrSecretTooLarge: the hidden secret is larger than
	// Options.MaxSecretSize; it was refused before being decompressed.
	ErrSecretTooLarge = errors.New("stego: hidden secret larger than allowed")
)

// CapacityError reports a secret that does not fit. It matches
// ErrTooLarge under errors.Is. Its counts are of data bytes, the unit of
// DataCapacity: the name and MIME type are stored beside the data and
// have already been taken off Available, so a secret that DataCapacity
// said fits never sees this error, and one byte more reports Needed =
// Available + 1.
type CapacityError struct {
	// Needed is the size of the secret's data (data that compresses to
	// Available or less is stored compressed and fits). Needed −
	// Available is how many bytes too many the secret has.
	Needed int
	// Available is DataCapacity for the secret's name and MIME type: the
	// data bytes the cover holds beside them under these options.
	Available int
	// Metadata is the bytes the name and MIME type take.
	Metadata int
}

func (e *CapacityError) Error() string {
	if e.Metadata == 0 {
		return fmt.Sprintf("stego: secret too large for cover: needs %d bytes, cover holds %d", e.Needed, e.Available)
	}
	return fmt.Sprintf("stego: secret too large for cover: needs %d bytes, cover holds %d beside the %d bytes of its name and MIME type", e.Needed, e.Available, e.Metadata)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *CapacityError) Is(target error) bool { return target == ErrTooLarge }
