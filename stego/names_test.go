package stego

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanName(t *testing.T) {
	long := strings.Repeat("n", 300)
	longUTF8 := strings.Repeat("é", 200) // 400 bytes, 2 per rune
	cases := []struct {
		name, stored, want string
	}{
		{"plain", "plan.txt", "plan.txt"},
		{"unicode kept", "résumé 2024.pdf", "résumé 2024.pdf"},
		{"empty", "", DefaultName},
		{"dot", ".", DefaultName},
		{"dot dot", "..", DefaultName},
		{"only dots", "...", DefaultName},
		{"only slashes", "///", DefaultName},
		{"traversal", "../../etc/passwd", "passwd"},
		{"absolute", "/etc/passwd", "passwd"},
		{"windows path", `C:\Users\me\cap.bin`, "cap.bin"},
		{"windows traversal", `..\..\boot.ini`, "boot.ini"},
		{"trailing slash", "dir/", "dir"},
		{"traversal to dot dot", "a/..", DefaultName},
		{"dotfile", ".bashrc", "_bashrc"},
		{"dotfile in a path", "x/.ssh", "_ssh"},
		{"two leading dots", "..profile", "_.profile"},
		{"escape sequence", "a\x1b[31mb", "a_[31mb"},
		{"newline", "a\nb.txt", "a_b.txt"},
		{"NUL", "a\x00b", "a_b"},
		{"DEL", "a\x7fb", "a_b"},
		{"C1 control", "a\u009bb", "a_b"},
		{"bidi override", "evil\u202efdp.exe", "evil_fdp.exe"},
		{"zero-width space", "a\u200bb", "a_b"},
		{"no-break space", "a\u00a0b", "a_b"},
		{"invalid UTF-8", "a\xffb", "a_b"},
		{"windows-reserved characters", `a<b>c:d"e|f?g*h`, "a_b_c_d_e_f_g_h"},
		{"drive-relative", "C:notes.txt", "C_notes.txt"},
		{"trailing dots and spaces", "a.exe. . ", "a.exe"},
		{"leading spaces", "  a.txt", "a.txt"},
		{"space then dot", " .bashrc", "_bashrc"},
		{"device name", "CON", "_CON"},
		{"device name with extension", "nul.txt", "_nul.txt"},
		{"device name any case", "Lpt1.log", "_Lpt1.log"},
		{"not a device name", "console.txt", "console.txt"},
		{"COM without digit", "COMA", "COMA"},
		{"COM with a superscript digit", "com¹.txt", "_com¹.txt"},
		{"LPT with a superscript digit", "LPT³", "_LPT³"},
		{"COM with another superscript", "COM⁴", "COM⁴"},
		{"long device name", "nul." + strings.Repeat("a", 251), "_nul." + strings.Repeat("a", 250)},
		{"too long", long, long[:255]},
		{"too long keeps extension", long + ".pdf", long[:251] + ".pdf"},
		{"too long cuts at a rune", longUTF8, strings.Repeat("é", 127)},
		{"too long with a long extension", "a." + long, ("a." + long)[:255]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CleanName(tc.stored)
			if got != tc.want {
				t.Fatalf("CleanName(%q) = %q, want %q", tc.stored, got, tc.want)
			}
			if again := CleanName(got); again != got {
				t.Fatalf("not idempotent: CleanName(%q) = %q", got, again)
			}
		})
	}
}

// FuzzCleanName checks the promises CleanName makes for any input, not
// just the table's.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"", "..", ".bashrc", "../../etc/passwd", "a\x1b[31mb", "nul.txt", strings.Repeat("é", 200), "a\xff", "nul." + strings.Repeat("a", 251)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stored string) {
		got := CleanName(stored)
		switch {
		case got == "" || got == "." || got == "..":
			t.Fatalf("CleanName(%q) = %q, not a usable name", stored, got)
		case len(got) > maxNameBytes:
			t.Fatalf("CleanName(%q) is %d bytes", stored, len(got))
		case !utf8.ValidString(got):
			t.Fatalf("CleanName(%q) = %q, not UTF-8", stored, got)
		case strings.ContainsAny(got, `/\`):
			t.Fatalf("CleanName(%q) = %q keeps a separator", stored, got)
		case strings.HasPrefix(got, ".") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, ".") || strings.HasSuffix(got, " "):
			t.Fatalf("CleanName(%q) = %q starts or ends badly", stored, got)
		case strings.IndexFunc(got, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
			t.Fatalf("CleanName(%q) = %q keeps an unprintable rune", stored, got)
		case CleanName(got) != got:
			t.Fatalf("CleanName not idempotent on %q", got)
		}
	})
}

func TestParseMIME(t *testing.T) {
	cases := []struct {
		name, t, want string // want "" means an error
	}{
		{"plain", "image/png", "image/png"},
		{"charset kept", "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"canonical case and spacing", "TEXT/Plain ;Charset=UTF-8", "text/plain; charset=utf-8"},
		{"other parameters dropped", "text/plain; format=flowed; charset=us-ascii", "text/plain; charset=us-ascii"},
		{"quoted odd charset dropped", `text/plain; charset="a b"`, "text/plain"},
		{"long charset dropped", "text/plain; charset=" + strings.Repeat("x", 41), "text/plain"},
		{"suffix type", "image/svg+xml", "image/svg+xml"},
		{"empty", "", ""},
		{"no subtype", "foo", ""},
		{"empty subtype", "text/", ""},
		{"two slashes", "a/b/c", ""},
		{"wildcard", "*/*", ""},
		{"wildcard subtype", "image/*", ""},
		{"junk after a parameter", "text/html; charset=utf-8<script>", ""},
		{"header injection", "text/html\r\nSet-Cookie: a=b", ""},
		{"control character", "text/pl\x1bain", ""},
		{"over 255 bytes", "application/" + strings.Repeat("x", 250), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMIME(tc.t)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrInvalidOptions) {
					t.Fatalf("ParseMIME(%q) = %q, %v; want an ErrInvalidOptions", tc.t, got, err)
				}
				if clean := CleanMIME(tc.t); clean != DefaultMIME {
					t.Fatalf("CleanMIME(%q) = %q, want %q", tc.t, clean, DefaultMIME)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseMIME(%q) = %q, %v; want %q", tc.t, got, err, tc.want)
			}
			if clean := CleanMIME(tc.t); clean != tc.want {
				t.Fatalf("CleanMIME(%q) = %q, want %q", tc.t, clean, tc.want)
			}
			if again, err := ParseMIME(got); err != nil || again != got {
				t.Fatalf("not idempotent: ParseMIME(%q) = %q, %v", got, again, err)
			}
		})
	}
}
