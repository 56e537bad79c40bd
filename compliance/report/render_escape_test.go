package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A control title, evidence line or note with ESC, BEL, bidi overrides or
// a newline is shown escaped in Markdown and HTML, never raw.
func TestRenderEscapesControls(t *testing.T) {
	v := "x\x1b[2K\x07\u202eevil\u2066\n| forged | row |"
	r := Report{Service: v, GeneratedAt: time.Unix(0, 0), Notes: []string{v},
		Rows: []Row{{Control: "164.312(b)", Title: v, Status: Met, Evidence: []string{v}}}}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"markdown": func(b *bytes.Buffer) error { return r.WriteMarkdown(b) },
		"html":     func(b *bytes.Buffer) error { return r.WriteHTML(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, raw := range []string{"\x1b", "\x07", "\u202e", "\u2066", "\n| forged"} {
			if strings.Contains(out, raw) {
				t.Errorf("%s output contains raw %q", name, raw)
			}
		}
		if !strings.Contains(out, `\x1b[2K\x07\u202eevil\u2066\n`) {
			t.Errorf("%s output lacks the visible escapes:\n%s", name, out)
		}
	}
}
