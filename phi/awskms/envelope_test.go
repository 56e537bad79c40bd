package awskms

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseEnvelope checks that parsing any bytes never panics, fails only
// with ErrInvalidCiphertext, and splits accepted input without losing bytes.
func FuzzParseEnvelope(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "wrapped-v1.bin")); err == nil {
		f.Add(b)
	}
	f.Add([]byte{1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, sealed, err := parseEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidCiphertext) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(blob) == 0 || len(sealed) < gcmOverhead || headerSize+len(blob)+len(sealed) != len(b) {
			t.Fatalf("split %d bytes into blob %d and sealed %d", len(b), len(blob), len(sealed))
		}
	})
}
