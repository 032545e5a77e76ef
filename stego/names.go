package stego

import (
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The name and MIME type stored in an image are whatever its writer chose.
// Without a password the key is public, so anyone can craft an image whose
// name is "../../etc/passwd", ".bashrc" or a terminal escape sequence, and
// whose type is "text/html" with junk after it. Extract returns them as
// stored, so that a caller can tell what was there; CleanName and
// CleanMIME are what a caller should use before a name becomes a file or
// a header, and what embedders should store. The API and stegoctl use
// both at embed time (what gets stored) and at extract time (because old
// and crafted images exist).

const (
	// DefaultName is the file name used when a stored name leaves
	// nothing usable (empty, ".", "..", only slashes or dots).
	DefaultName = "secret.bin"
	// DefaultMIME is the type used when a stored type is missing or not
	// a well-formed media type.
	DefaultMIME = "application/octet-stream"

	// maxNameBytes is the longest name CleanName returns: the limit of
	// most file systems (ext4, APFS, NTFS in UTF-16 units, which 255
	// bytes of UTF-8 never exceed), and what the format can store.
	maxNameBytes = 255
	// maxExtBytes is the longest extension CleanName keeps whole when it
	// shortens a name; a longer "extension" is just part of the name.
	maxExtBytes = 16
	// maxCharsetBytes bounds the one parameter CleanMIME keeps; real
	// charset names are short ("utf-8", "iso-8859-15", "windows-1252").
	maxCharsetBytes = 40
)

// nameReplacement stands in for every rune CleanName will not keep.
const nameReplacement = '_'

// CleanName returns a file name that is safe to create in any directory
// and to show on a terminal, made from a stored (untrusted) name:
//
//   - only the last path element is kept, with '/' and '\' both taken as
//     separators, so no name reaches another directory;
//   - control characters, other unprintable runes (bidi overrides,
//     zero-width and non-ASCII spaces, invalid UTF-8) and the characters
//     Windows forbids in names (< > : " | ? *) become '_';
//   - leading spaces and trailing dots and spaces are dropped (Windows
//     drops the latter silently, so "a.exe." would be "a.exe" there);
//   - a leading dot becomes '_' (".bashrc" → "_bashrc"): a secret never
//     lands as a hidden file or a shell's start-up file;
//   - Windows device names (CON, NUL, COM1, LPT1, …, with any extension)
//     get a '_' prefix, since opening them there opens the device;
//   - names over 255 bytes are shortened at a rune boundary, keeping the
//     extension;
//   - a name with nothing usable left (empty, ".", "..", only dots or
//     slashes) becomes DefaultName.
//
// CleanName renames rather than refuses, so a crafted image still yields
// its data; callers that want to tell the user compare the result with
// the stored name. It is idempotent, and never returns an empty string.
func CleanName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "/" {
		name = ""
	}
	name = replaceUnsafeRunes(name)
	name = truncateName(name, maxNameBytes)
	name = strings.TrimLeft(name, " ")
	name = strings.TrimRight(name, ". ")
	if strings.HasPrefix(name, ".") {
		name = string(nameReplacement) + name[1:]
	}
	if isWindowsDeviceName(name) {
		// The prefix must not take the name over the limit.
		name = string(nameReplacement) + strings.TrimRight(truncateName(name, maxNameBytes-1), ". ")
	}
	if name == "" {
		return DefaultName
	}
	return name
}

// replaceUnsafeRunes replaces every rune that must not appear in a file
// name shown to a person or created on any common file system.
func replaceUnsafeRunes(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, // a byte that is not UTF-8
			!unicode.IsPrint(r), // controls, format runes (U+202E), non-ASCII spaces
			strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune(nameReplacement)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// truncateName shortens a name to limit bytes, cutting the part before
// the extension at a rune boundary so the file still opens with the
// right program.
func truncateName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > maxExtBytes {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	cut := limit - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return stem[:cut] + ext
}

// isWindowsDeviceName reports whether Windows would open a device for
// this name: CON, PRN, AUX, NUL, COM0–9 and LPT0–9 (and COM¹–³, LPT¹–³:
// Windows takes superscript digits as digits there), in any case, alone
// or before an extension ("nul.txt" is NUL too).
func isWindowsDeviceName(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if !strings.HasPrefix(stem, "COM") && !strings.HasPrefix(stem, "LPT") {
		return false
	}
	switch digit := stem[3:]; {
	case len(digit) == 1:
		return digit[0] >= '0' && digit[0] <= '9'
	default:
		return digit == "¹" || digit == "²" || digit == "³"
	}
}

// ParseMIME checks a MIME type given by a user or client and returns it
// in canonical form: lower-case type/subtype, both plain tokens and
// neither a wildcard, keeping only a charset parameter (and only when it
// is a short token), since no other parameter means anything for a
// stored file. A malformed type wraps ErrInvalidOptions.
func ParseMIME(t string) (string, error) {
	if len(t) > maxMetaField {
		return "", fmt.Errorf("%w: MIME type is %d bytes (at most %d)", ErrInvalidOptions, len(t), maxMetaField)
	}
	mediaType, params, err := mime.ParseMediaType(t)
	if err != nil {
		return "", fmt.Errorf("%w: MIME type %q: %v", ErrInvalidOptions, t, err)
	}
	// ParseMediaType accepts a lone token ("foo") and wildcards; neither
	// names the type of a file.
	typ, sub, ok := strings.Cut(mediaType, "/")
	if !ok || typ == "*" || sub == "*" {
		return "", fmt.Errorf("%w: MIME type %q: want type/subtype", ErrInvalidOptions, t)
	}
	var keep map[string]string
	if cs := params["charset"]; cs != "" && len(cs) <= maxCharsetBytes && strings.IndexFunc(cs, notCharsetRune) < 0 {
		keep = map[string]string{"charset": strings.ToLower(cs)}
	}
	return mime.FormatMediaType(mediaType, keep), nil
}

// notCharsetRune reports a rune no registered charset name contains
// (RFC 2978 names are letters, digits and a few punctuation marks).
func notCharsetRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:+", r))
}

// CleanMIME is ParseMIME for a stored (untrusted) type: what is malformed
// or missing becomes DefaultMIME rather than an error, so a crafted
// image still yields its data, served as opaque bytes.
func CleanMIME(t string) string {
	clean, err := ParseMIME(t)
	if err != nil {
		return DefaultMIME
	}
	return clean
}
