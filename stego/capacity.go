package stego

import (
	"errors"
	"fmt"
)

// Capacity returns the largest Secret.Size() that Embed accepts for this
// cover and these options: the room for data, name and MIME type
// together. It is DataCapacity for a secret with neither name nor MIME
// type, which is what a figure that knows nothing of the secret can
// promise; a secret with a name fits that many bytes less.
func Capacity(cover *Image, opts Options) (int, error) {
	return DataCapacity(cover, opts, "", "")
}

// DataCapacity returns the largest len(Data) that Embed accepts, under
// opts, for a secret with this name and MIME type, which are stored
// beside the data and cost their length in bytes: a secret of exactly
// this many bytes embeds, one byte more fails with a *CapacityError
// (ErrTooLarge). Compressible data may fit beyond it, since it is stored
// compressed; incompressible data never does. The password does not
// change capacity.
//
// A name or MIME type over 255 bytes gives ErrInvalidOptions. When not
// even empty data fits (a tiny cover, or a name and type longer than the
// room) the result is 0 with a *CapacityError whose Needed exceeds
// Available by the shortfall. Embed checks every secret with this
// function, so the figure cannot drift from what it accepts.
func DataCapacity(cover *Image, opts Options, name, mimeType string) (int, error) {
	d, err := opts.depth()
	if err != nil {
		return 0, err
	}
	switch {
	case opts.Mode != ModeKeyed && opts.Mode != ModeSequential && opts.Mode != ModeAdaptive:
		return 0, fmt.Errorf("%w: mode %d", ErrInvalidOptions, opts.Mode)
	case opts.Mode == ModeAdaptive && d != 1:
		return 0, fmt.Errorf("%w: adaptive mode embeds at depth 1 only, not %d", ErrInvalidOptions, d)
	}
	if len(name) > maxMetaField || len(mimeType) > maxMetaField {
		return 0, fmt.Errorf("%w: file name and MIME type must be at most %d bytes", ErrInvalidOptions, maxMetaField)
	}
	meta := len(name) + len(mimeType)
	room := secretCapacity(cover.r.dataSamples(), d, opts.Mode) - meta
	if room < 0 {
		return 0, &CapacityError{Needed: -room, Available: 0, Metadata: meta}
	}
	return room, nil
}

// Fits reports whether Embed would accept secret under opts: its data is
// within DataCapacity for its name and MIME type or, unless
// opts.DisableCompression, compresses to within it. It compresses only
// data over the figure, exactly as Embed would.
func Fits(cover *Image, secret Secret, opts Options) (bool, error) {
	room, err := DataCapacity(cover, opts, secret.Name, secret.MIME)
	if errors.Is(err, ErrTooLarge) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(secret.Data) <= room {
		return true, nil
	}
	if opts.DisableCompression {
		return false, nil
	}
	_, compressed := deflate(secret.Data, room)
	return compressed, nil
}
