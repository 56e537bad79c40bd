package audit

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// EscapeText returns s in a form that is safe to show on a terminal, in a
// CSV cell, a Markdown or HTML report or any other text output: every
// character that a terminal or text renderer would act on instead of
// showing is replaced by a visible escape, so a hostile field value (an
// emergency reason, a record ID, a user agent) cannot erase, rewrite or
// reorder what an auditor sees.
//
// Escaped, each in a form that cannot be confused with ordinary text:
//   - the backslash itself, as \\ (so every escape is unambiguous);
//   - C0 controls as \n, \r, \t or \xNN (ESC is \x1b), and DEL as \x7f;
//   - C1 controls (U+0080-U+009F) as \u0080 ... \u009f;
//   - bidirectional overrides, embeddings and isolates (U+202A-U+202E,
//     U+2066-U+2069), the directional marks and every other invisible
//     format character (Unicode category Cf, e.g. U+200B-U+200F, U+2060,
//     U+FEFF, tag characters), and the line and paragraph separators
//     U+2028 and U+2029, as \uNNNN or \UNNNNNNNN;
//   - bytes that are not valid UTF-8, as \xNN.
//
// Everything else, including printable non-ASCII text, is kept as it is.
// An ANSI escape sequence loses its ESC byte and so its effect. JSON output
// needs no EscapeText: the canonical encoding already escapes controls.
func EscapeText(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !escapeRune(r, n) {
				i += n
				continue
			}
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\x`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		case escapeRune(r, n):
			writeUEscape(&b, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escapeRune reports whether the non-ASCII rune r (n bytes long) must be
// escaped by EscapeText.
func escapeRune(r rune, n int) bool {
	if r == utf8.RuneError && n == 1 {
		return true // invalid UTF-8
	}
	return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) ||
		r == '\u2028' || r == '\u2029'
}

func writeUEscape(b *strings.Builder, r rune) {
	digits := 4
	if r > 0xffff {
		b.WriteString(`\U`)
		digits = 8
	} else {
		b.WriteString(`\u`)
	}
	for k := digits - 1; k >= 0; k-- {
		b.WriteByte(hexDigits[(r>>(4*k))&0xf])
	}
}
