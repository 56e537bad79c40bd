package main

import (
	"io"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/audit"
)

// terminalWriter is the last line of defence between stored values and an
// operator's terminal: every command's text output passes through it, and
// it escapes (with audit.EscapeText) each character that could move the
// cursor, ring the bell, recolour or erase lines, or reorder text — C0
// controls other than newline and tab, DEL, C1 controls, bidirectional
// overrides and isolates, other invisible format characters — and every
// byte of invalid UTF-8. Fields are escaped where they are formatted too
// (so a backslash in a value is shown as \\ there); this writer leaves
// backslashes alone, so already escaped text passes through unchanged.
//
// Byte-exact machine formats (canonical JSON Lines, signed certificates)
// bypass it through cli.raw.
type terminalWriter struct {
	w       io.Writer
	pending []byte // an incomplete UTF-8 sequence at the end of the last Write
	out     []byte
}

func (t *terminalWriter) Write(p []byte) (int, error) {
	n := len(p)
	buf := append(t.pending, p...)
	t.pending = t.pending[:0]
	t.out = t.out[:0]
	for len(buf) > 0 {
		r, size := utf8.DecodeRune(buf)
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(buf) {
			t.pending = append(t.pending, buf...) // wait for the rest
			break
		}
		t.out = appendSafe(t.out, r, buf[:size])
		buf = buf[size:]
	}
	if _, err := t.w.Write(t.out); err != nil {
		return 0, err
	}
	return n, nil
}

// flush writes an incomplete UTF-8 sequence left at the end, escaped.
func (t *terminalWriter) flush() {
	if len(t.pending) == 0 {
		return
	}
	_, _ = io.WriteString(t.w, audit.EscapeText(string(t.pending)))
	t.pending = t.pending[:0]
}

func appendSafe(out []byte, r rune, raw []byte) []byte {
	if r == '\n' || r == '\t' || r == '\\' {
		return append(out, raw...)
	}
	s := string(raw)
	if e := audit.EscapeText(s); e != s {
		return append(out, e...)
	}
	return append(out, raw...)
}

// terminalSafe returns a copy of c whose stdout and stderr escape terminal
// controls, with c's own stdout kept as raw, and the function that flushes
// both at the end of the command.
func (c *cli) terminalSafe() (*cli, func()) {
	out, errw := &terminalWriter{w: c.stdout}, &terminalWriter{w: c.stderr}
	safe := *c
	safe.raw, safe.stdout, safe.stderr = c.stdout, out, errw
	return &safe, func() { out.flush(); errw.flush() }
}
