package audit_test

import (
	"fmt"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain ascii, ünïcødé 😀":   "plain ascii, ünïcødé 😀",
		"\x1b[2J\x07":              `\x1b[2J\x07`,
		"a\nb\r\tc\x00\x7f":        `a\nb\r\tc\x00\x7f`,
		`back\slash`:               `back\\slash`,
		"\u009b31m\u0085":          `\u009b31m\u0085`,
		"\u202ecod.exe\u202c":      `\u202ecod.exe\u202c`,
		"\u2066\u2067\u2068\u2069": `\u2066\u2067\u2068\u2069`,
		"\u200b\u200e\u200f\ufeff": `\u200b\u200e\u200f\ufeff`,
		"\u2028\u2029\U000e0041":   `\u2028\u2029\U000e0041`,
		"bad \xff\xc2 utf8":        `bad \xff\xc2 utf8`,
		"":                         "",
	} {
		if got := audit.EscapeText(in); got != want {
			t.Errorf("EscapeText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := audit.CSVSafe("\t=1+1"); got != `\t=1+1` {
		t.Errorf("CSVSafe: %q", got)
	}
	if got := audit.CSVSafe("=1+1\x1b"); got != `'=1+1\x1b` {
		t.Errorf("CSVSafe: %q", got)
	}
}

func ExampleEscapeText() {
	fmt.Println(audit.EscapeText("chest pain\x1b[2K\rnothing to see\u202e"))
	// Output: chest pain\x1b[2K\rnothing to see\u202e
}
