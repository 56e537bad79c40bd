package pgledger_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/ledgertest"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/signing"
)

func TestPostgresLedgerShredReplay(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgledger.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	trusted, err := signing.NewKeySet(pub)
	if err != nil {
		t.Fatal(err)
	}
	storeA, err := pgledger.Open(ctx, pool, pgledger.Options{Stream: "disposal-a", Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer storeA.Close()
	storeB, err := pgledger.Open(ctx, pool, pgledger.Options{Stream: "disposal-b", Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer storeB.Close()
	if _, err := pgledger.Open(ctx, pool, pgledger.Options{Stream: "audit", Signer: priv}); err == nil {
		t.Fatal("a non-ledger stream name was accepted")
	}

	kek, _ := localkek.New(make([]byte, 32))
	keys := memstore.New(memstore.Config{})
	vault, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	newShredder := func(s disposal.LedgerStore) *disposal.Shredder {
		sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: disposal.NewLedger(s), Audit: audit.Discard{}, Holds: disposal.NoHolds{}, SigningKey: priv})
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	a, b := newShredder(storeA), newShredder(storeB)
	for _, s := range []string{"patient-1", "patient-2", "patient-3"} {
		if _, err := vault.Seal(ctx, phi.Binding{Subject: s, Field: "dob"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	ra, err := a.Shred(ctx, "patient-1", "request")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disposal.VerifyCertificate(ra.Signed, trusted); err != nil || ra.Certificate.Ledger.Stream != "disposal-a" || ra.Certificate.Ledger.Seq != 1 {
		t.Fatalf("certificate %+v %v", ra.Certificate, err)
	}
	if _, err := b.Shred(ctx, "patient-2", "request"); err != nil {
		t.Fatal(err)
	}
	// Instance B finds A's disposal: idempotent across instances.
	again, err := b.Shred(ctx, "patient-1", "again")
	if err != nil || !again.Repeated || again.Certificate.ID != ra.Certificate.ID {
		t.Fatalf("cross-instance repeat: %+v %v", again, err)
	}

	// Replay into a fresh key store (an old backup): both instances' entries apply.
	restored := memstore.New(memstore.Config{})
	n, err := disposal.NewLedger(storeB).Replay(ctx, restored)
	if err != nil || n != 2 {
		t.Fatalf("Replay = %d, %v", n, err)
	}
	for _, s := range []string{"patient-1", "patient-2"} {
		if _, err := restored.Get(ctx, s); !errors.Is(err, phi.ErrShredded) {
			t.Fatalf("%s after replay: %v", s, err)
		}
	}
	if _, err := restored.Get(ctx, "patient-3"); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatal("replay touched a subject that was never shredded")
	}

	// Tampering with the table is detected (the trigger forbids UPDATE, so
	// an attacker with owner rights disables it first).
	if _, err := pool.Exec(ctx, `ALTER TABLE hipaakit_audit_records DISABLE TRIGGER USER;
		UPDATE hipaakit_audit_records SET line = convert_to(replace(convert_from(line, 'UTF8'), 'patient-2', 'patient-9'), 'UTF8') WHERE stream = 'disposal-b';
		ALTER TABLE hipaakit_audit_records ENABLE TRIGGER USER`); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if _, err := disposal.NewLedger(storeA).Replay(ctx, memstore.New(memstore.Config{})); !errors.Is(err, disposal.ErrCorruptLedger) {
		t.Fatalf("tampered ledger: %v", err)
	}
}

func TestPostgresLedgerStoreConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) disposal.LedgerStore {
		ctx := context.Background()
		pool := hipaakittest.Postgres(t)
		if err := pgledger.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		s, err := pgledger.Open(ctx, pool, pgledger.Options{Signer: priv})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
