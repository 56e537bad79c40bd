package disposal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

// The file ledger is an audit stream: its entries are in a Merkle tree, and
// a certificate's ledger entry can be proved to an auditor offline.
func TestFileLedgerEntriesHaveInclusionProofs(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ledger")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ledger, store := openFileLedgerWith(t, dir, FileLedgerOptions{Signer: priv})
	f := newFixture(t, nil, store, nil)
	f.ledger, f.shredder.cfg.Ledger = ledger, ledger
	var last Result
	for _, s := range []string{"patient-a", "patient-b"} {
		f.seal(t, s, "dob", "x")
		res, err := f.shredder.Shred(ctx, s, "r")
		if err != nil {
			t.Fatal(err)
		}
		last = res
	}
	if err := ledger.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := audit.OpenFileReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := signing.NewKeySet(priv.Public().(ed25519.PublicKey))
	p, err := r.Prover(keys).ProveInclusion(ctx, last.Certificate.Ledger.Seq)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Marshal()
	got, err := audit.VerifyInclusionProof(b, keys, "")
	if err != nil || got.Record.Seq != last.Certificate.Ledger.Seq || got.Record.Event.Action != audit.ActionShred {
		t.Fatalf("ledger entry proof: %v", err)
	}
}
