package png

import "errors"

// Errors about the input. Decode and Encode wrap one of these (test with
// errors.Is) whenever the cause is the data rather than the machine or
// the writer.
var (
	// ErrFormat: the data is not a PNG or is damaged, or an Image has a
	// shape PNG cannot hold.
	ErrFormat = errors.New("png: invalid or unsupported")
	// ErrTooLarge: the image declares more pixels than the caller
	// allows, or than fit in memory on this platform. It is refused
	// before its pixel buffer is allocated.
	ErrTooLarge = errors.New("png: image too large")
	// ErrNotFastPath: the PNG is valid as far as Decode looked but uses a
	// feature it does not handle (palette, bit depth below 8, Adam7
	// interlacing, a tRNS colour key); decode it with image/png instead.
	ErrNotFastPath = errors.New("png: outside the fast decoder's subset")
)

// inputError is an error about the input whose message is the detail
// alone: a caller that wraps it in its own sentinel then reads
// "<caller's sentinel>: png: <detail>", not the detail twice.
type inputError struct {
	kind error // ErrFormat or ErrTooLarge
	msg  string
}

func (e *inputError) Error() string { return e.msg }

// Unwrap makes errors.Is(err, e.kind) true.
func (e *inputError) Unwrap() error { return e.kind }
