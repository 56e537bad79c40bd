package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
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

// FuzzVerifySegment: a segment file of arbitrary bytes never panics the
// reader, the parallel verifier or Open; failures are typed.
func FuzzVerifySegment(f *testing.F) {
	b, err := os.ReadFile(goldenV1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(bytes.Repeat([]byte("\n"), 3))
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyDir(context.Background(), dir, testKeys(t))
		if err != nil && !isLineErr(err) && !errors.Is(err, ErrTorn) && !errors.Is(err, ErrChainBroken) &&
			!errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("untyped error: %v", err)
		}
		for _, err := range (&FileReader{dir: dir}).Records(context.Background(), 0) {
			if err != nil {
				break
			}
		}
		if l, err := OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(t), Stream: "golden"}); err == nil {
			l.Close()
		}
	})
}
