package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/signing"
)

// TestProofVerifierReused checks that a ProofVerifier which has already
// verified a checkpoint note refuses, like VerifyInclusionProof, a proof
// for another stream, a forged root, a changed path and a changed record,
// and that its answers for the good proof stay the same.
func TestProofVerifierReused(t *testing.T) {
	ctx := context.Background()
	l := openTestLog(t, t.TempDir(), func(o *FileOptions) { o.CheckpointEvery = 10 })
	writeEvents(t, l, 0, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	keys := testKeySet(t)
	p := l.Reader().Prover(keys)
	proof, err := p.ProveInclusion(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := proof.Marshal()
	v := NewProofVerifier(keys)
	for range 3 {
		got, err := v.Inclusion(good, "audit")
		if err != nil || got.Record.Seq != 5 || !bytes.Equal(got.Checkpoint.Note, proof.Checkpoint.Note) {
			t.Fatalf("good proof: %v", err)
		}
	}
	var sm *StreamMismatchError
	if _, err := v.Inclusion(good, "other"); !errors.As(err, &sm) {
		t.Fatalf("another stream after caching: %v", err)
	}
	if _, err := v.Checkpoint(proof.Checkpoint.Note, "other"); !errors.As(err, &sm) {
		t.Fatalf("checkpoint of another stream after caching: %v", err)
	}
	forged := bytes.Replace(good, []byte(base64Std(proof.Checkpoint.Root[:])), []byte(base64Std(make([]byte, 32))), 1)
	if _, err := v.Inclusion(forged, ""); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged root: %v", err)
	}
	bad := proof
	bad.Path = append([]Hash(nil), proof.Path...)
	bad.Path[1][3] ^= 1
	bb, _ := bad.Marshal()
	if _, err := v.Inclusion(bb, ""); !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("bad path: %v", err)
	}
	bad = proof
	bad.Record.Event.Reason = "changed"
	bad.Record.Hash, _ = bad.Record.ComputeHash()
	bb, _ = bad.Marshal()
	if _, err := v.Inclusion(bb, ""); !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("changed record: %v", err)
	}
	other := NewProofVerifier(testOtherKeySet(t))
	if _, err := other.Inclusion(good, ""); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
}

func testOtherKeySet(t *testing.T) signing.KeySet {
	ks, err := signing.NewKeySet(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}
