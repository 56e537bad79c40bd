package backup_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// TestRestoreReplaysDisposalLedger is issue 6, item 5: a backup of the key
// store taken before a patient was shredded restores every other patient
// and never that one.
func TestRestoreReplaysDisposalLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek, err := localkek.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	live, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	vault, err := phi.NewVault(phi.VaultConfig{Keys: live, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	a := phi.Binding{Subject: "patient-a", Field: "diagnosis"}
	b := phi.Binding{Subject: "patient-b", Field: "diagnosis"}
	sealedA, err := vault.Seal(ctx, a, []byte("A's diagnosis"))
	if err != nil {
		t.Fatal(err)
	}
	sealedB, err := vault.Seal(ctx, b, []byte("B's diagnosis"))
	if err != nil {
		t.Fatal(err)
	}

	// Back up the key store while both patients exist.
	target, err := backup.NewDirTarget(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := repo.Backup(ctx, backup.KeyStoreSource{Store: live})
	if err != nil {
		t.Fatal(err)
	}
	if m.Entries[0].Rows != 2 {
		t.Fatalf("backed up %d keysets, want 2", m.Entries[0].Rows)
	}

	// Shred patient A through disposal, which records it in the ledger.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := disposal.OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Signer: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	ledger := disposal.NewLedger(ls)
	shredder, err := disposal.New(disposal.Config{Vault: vault, Keys: live, Ledger: ledger, Audit: audit.Discard{},
		Holds: disposal.NoHolds{}, SigningKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shredder.Shred(ctx, "patient-a", "patient request"); err != nil {
		t.Fatal(err)
	}

	// Disaster: restore the old backup into a fresh key store.
	restored, err := filestore.Open(filepath.Join(dir, "restored-keys"), filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := backup.NewKeyStoreSink(restored, ledger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Restore(ctx, m.ID, sink, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if sink.Restored != 1 || sink.Shredded != 1 || sink.Replayed < 1 {
		t.Fatalf("restored %d, shredded %d, replayed %d; want 1, 1, >=1", sink.Restored, sink.Shredded, sink.Replayed)
	}
	v2, err := phi.NewVault(phi.VaultConfig{Keys: restored, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Open(ctx, a, sealedA); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("patient A after restore: %v, want phi.ErrShredded", err)
	}
	pt, err := v2.Open(ctx, b, sealedB)
	if err != nil {
		t.Fatalf("patient B after restore: %v", err)
	}
	if !bytes.Equal(pt.Reveal(), []byte("B's diagnosis")) {
		t.Fatal("patient B's data changed")
	}
	// Without the ledger a key store restore is refused outright.
	if _, err := backup.NewKeyStoreSink(restored, nil); err == nil {
		t.Fatal("a key store sink without the disposal ledger was accepted")
	}
}
