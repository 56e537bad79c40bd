package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// TestTerminalWriterEscapes: every control, bidi and invalid byte that
// reaches a command's stdout or stderr is escaped, also when a multi-byte
// character is split across writes; newlines, tabs, backslashes and plain
// text pass unchanged.
func TestTerminalWriterEscapes(t *testing.T) {
	var buf bytes.Buffer
	w := &terminalWriter{w: &buf}
	in := "ok\tcol\\x1b\n" + "\x1b[2J\x07\x7f\u009b\u202e\u2066\xff" + "é"
	for i := 0; i < len(in); i++ { // one byte at a time: sequences split
		if n, err := w.Write([]byte{in[i]}); n != 1 || err != nil {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	w.flush()
	want := "ok\tcol\\x1b\n" + `\x1b[2J\x07\x7f\u009b\u202e\u2066\xff` + "é"
	if buf.String() != want {
		t.Fatalf("got  %q\nwant %q", buf.String(), want)
	}
	buf.Reset()
	w.Write([]byte("tail\xe2\x80")) // truncated U+202E at the very end
	w.flush()
	if got := buf.String(); got != `tail\xe2\x80` {
		t.Fatalf("truncated tail: %q", got)
	}
}

// TestEveryCommandOutputIsTerminalSafe: run writes through the terminal
// writer, so even a message that quotes a hostile argument reaches the
// terminal escaped.
func TestEveryCommandOutputIsTerminalSafe(t *testing.T) {
	var out, errw bytes.Buffer
	run(context.Background(), &cli{stdout: &out, stderr: &errw, getenv: func(string) string { return "" }},
		[]string{"audit", "query", "--\x1b]0;pwned\x07\u202e", "pg"})
	all := out.String() + errw.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(all, bad) {
			t.Fatalf("raw %q reached the terminal: %q", bad, all)
		}
	}
}

// FuzzTerminalWriter: whatever bytes a command writes, in whatever pieces,
// no character the terminal would act on (other than newline and tab)
// reaches it, and plain text is not altered.
func FuzzTerminalWriter(f *testing.F) {
	f.Add([]byte("plain text\n"), uint8(3))
	f.Add([]byte("\x1b[31mred\x1b[0m\a\u202ertl\u2069"), uint8(1))
	f.Add([]byte("\xe2\x80\xae split \xf0\x9f\x98"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var buf bytes.Buffer
		w := &terminalWriter{w: &buf}
		n := int(step%16) + 1
		for i := 0; i < len(in); i += n {
			w.Write(in[i:min(i+n, len(in))])
		}
		w.flush()
		for _, r := range buf.String() {
			if r == '\n' || r == '\t' || r == '\\' {
				continue
			}
			if s := string(r); audit.EscapeText(s) != s {
				t.Fatalf("raw %U reached the terminal: %q", r, buf.String())
			}
		}
		if !bytes.ContainsAny(in, "\\") && audit.EscapeText(string(in)) == string(in) && buf.String() != string(in) {
			t.Fatalf("plain input altered: %q -> %q", in, buf.String())
		}
	})
}
