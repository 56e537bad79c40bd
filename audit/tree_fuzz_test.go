package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// treeParseErr reports whether err is one of the typed errors the tree
// parsers may return.
func treeParseErr(err error) bool {
	var sm *StreamMismatchError
	return errors.Is(err, ErrMalformedNote) || errors.Is(err, ErrBadSignature) || errors.Is(err, ErrMalformedProof) ||
		errors.Is(err, ErrTreeMismatch) || errors.Is(err, ErrChainBroken) || errors.Is(err, ErrNoKeys) || errors.As(err, &sm)
}

func FuzzParseTreeCheckpoint(f *testing.F) {
	note, err := os.ReadFile(filepath.Join("testdata", "golden", "v2-checkpoint.note"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(note)
	f.Add(bytes.Replace(note, []byte("\n5\n"), []byte("\n05\n"), 1))
	f.Add(append(append([]byte(nil), note...), "— witness.example AAAAAAAAAAAA\n"...))
	f.Add([]byte("hipaakit.audit/app\n5\n\n\n"))
	keys := testKeySet(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseTreeCheckpoint(b, keys, "")
		if err != nil {
			if !treeParseErr(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		body, err := c.body()
		if err != nil || !bytes.HasPrefix(b, body) {
			t.Fatalf("accepted a note whose body does not re-encode: %v", err)
		}
	})
}

func FuzzVerifyInclusionProof(f *testing.F) {
	proof, err := os.ReadFile(filepath.Join("testdata", "golden", "v2-inclusion.proof"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(proof)
	f.Add(bytes.Replace(proof, []byte("index 2"), []byte("index 3"), 1))
	f.Add(proof[:len(proof)/2])
	f.Add([]byte("hipaakit audit inclusion proof v1\nindex 0\nrecord \nleaf \n\n"))
	keys := testKeySet(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := VerifyInclusionProof(b, keys, "")
		if err != nil {
			if !treeParseErr(err) && !isLineErr(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if p.Record.Seq == 0 || p.Record.Seq > p.Checkpoint.Size {
			t.Fatalf("accepted a proof of record %d in a tree of %d", p.Record.Seq, p.Checkpoint.Size)
		}
	})
}
