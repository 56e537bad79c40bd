package audit

import (
	"bytes"
	"os"
	"testing"
)

func addGoldenSeeds(f *testing.F) {
	b, err := os.ReadFile(goldenV1)
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) > 0 {
			f.Add(line)
		}
	}
}

// FuzzParseLine: parsing never panics, and whatever parses re-encodes to
// exactly the bytes it came from (parse → encode round-trips byte for byte).
func FuzzParseLine(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseLine(line)
		if err != nil {
			if !isLineErr(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		var out []byte
		if e.Record != nil {
			out, err = e.Record.Marshal()
			if err == nil {
				_, err = e.Record.ComputeHash()
			}
		} else {
			out, err = e.Checkpoint.Marshal()
		}
		if err != nil {
			t.Fatalf("parsed line does not encode: %v", err)
		}
		if !bytes.Equal(out, trimNewline(line)) {
			t.Fatalf("round trip differs:\n%q\n%q", line, out)
		}
	})
}

// FuzzVerifierLine: a verifier fed arbitrary lines after a valid prefix
// never panics and fails with a typed error.
func FuzzVerifierLine(f *testing.F) {
	addGoldenSeeds(f)
	b, _ := os.ReadFile(goldenV1)
	lines := bytes.SplitAfter(b, []byte("\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		v := NewVerifier(testKeys(t))
		for _, l := range lines[:3] {
			if err := v.Line(l); err != nil {
				t.Fatal(err)
			}
		}
		if err := v.Line(line); err != nil {
			if _, ok := err.(*VerifyError); !ok {
				t.Fatalf("untyped error %T", err)
			}
		}
		v.Finish()
	})
}
