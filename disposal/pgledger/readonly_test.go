package pgledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/signing"
)

// TestReadOnlyClaimsNothing: a read-only ledger beside a live writer finds
// and verifies its disposals, refuses appends, claims no stream, and the
// writer keeps appending.
func TestReadOnlyClaimsNothing(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgledger.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, err := pgledger.Open(ctx, pool, pgledger.Options{Stream: "disposal-a", Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	kek, _ := localkek.New(make([]byte, 32))
	keys := memstore.New(memstore.Config{})
	vault, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: disposal.NewLedger(w), Audit: audit.Discard{},
		Holds: disposal.NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	shred := func(s string) {
		if _, err := vault.Seal(ctx, phi.Binding{Subject: s, Field: "dob"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := sh.Shred(ctx, s, "test"); err != nil {
			t.Fatal(err)
		}
	}
	shred("patient-1")
	streams := func() (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM hipaakit_audit_streams`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := streams()
	if _, err := pgledger.OpenReadOnly(pool, signing.KeySet{}); err == nil {
		t.Fatal("OpenReadOnly without trusted keys was accepted")
	}
	trusted, err := signing.NewKeySet(pub)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := pgledger.OpenReadOnly(pool, trusted)
	if err != nil {
		t.Fatal(err)
	}
	l := disposal.NewLedger(ro)
	if n, err := l.Verify(ctx); err != nil || n != 1 {
		t.Fatalf("read-only Verify = %d, %v", n, err)
	}
	if _, ok, err := ro.FindSubject(ctx, "patient-1"); err != nil || !ok {
		t.Fatalf("read-only FindSubject = %t, %v", ok, err)
	}
	if _, err := ro.Append(ctx, audit.Event{}); !errors.Is(err, pgledger.ErrReadOnly) {
		t.Fatalf("read-only Append: %v", err)
	}
	if after := streams(); after != before {
		t.Fatalf("the read-only ledger claimed %d streams", after-before)
	}
	shred("patient-2") // the writer still holds its stream
	if n, err := l.Verify(ctx); err != nil || n != 2 {
		t.Fatalf("read-only Verify after the writer appended = %d, %v", n, err)
	}
}
