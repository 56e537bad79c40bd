package pgaudit

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// FuzzSplitCosigned: a cosigned note splits into the log's note and its
// cosignature lines, which put back together give the note again, or
// fails with audit.ErrMalformedNote.
func FuzzSplitCosigned(f *testing.F) {
	f.Add([]byte("hipaakit.audit/app\n5\nroot\nhead 00\ntime t\n\n— hipaakit.audit/app AAAA\n— w1 BBBB\n"))
	f.Add([]byte("a\n\n— x\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, note []byte) {
		logNote, lines, err := splitCosigned(note)
		if err != nil {
			if !errors.Is(err, audit.ErrMalformedNote) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		b := append([]byte(nil), logNote...)
		for _, l := range lines {
			b = append(b, l...)
			b = append(b, '\n')
		}
		if !bytes.Equal(b, note) {
			t.Fatalf("%q split and joined is %q", note, b)
		}
	})
}
