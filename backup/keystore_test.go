package backup

import (
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// shredLedger is a LedgerReplayer that shreds fixed subjects.
type shredLedger struct{ subjects []string }

func (l shredLedger) Replay(ctx context.Context, store phi.KeyStore) (int, error) {
	for _, s := range l.subjects {
		if _, err := store.Shred(ctx, s); err != nil {
			return 0, err
		}
	}
	return len(l.subjects), nil
}

func keyStoreWith(t *testing.T, refs ...string) *memstore.Store {
	t.Helper()
	s := memstore.New()
	for i, r := range refs {
		if err := s.Create(context.Background(), phi.WrappedKeyset{Ref: r, KEKID: "local:x", Ciphertext: []byte{byte(i), 1, 2}, KeyIDs: []uint32{uint32(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestKeyStoreBackupDrillAndRestore(t *testing.T) {
	f := newFixture(t)
	src := keyStoreWith(t, "patient-1", "patient-2", "patient-3")
	m, err := f.repo.Backup(f.ctx, KeyStoreSource{Store: src, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.Entries[0].Rows != 3 {
		t.Fatalf("rows %d, want 3", m.Entries[0].Rows)
	}
	ledger := shredLedger{subjects: []string{"patient-2"}}
	rep, err := f.repo.Drill(f.ctx, DrillOptions{Ledger: ledger})
	if err != nil || !rep.Pass {
		t.Fatalf("key store drill: %+v, %v", rep, err)
	}
	if _, err := f.repo.Drill(f.ctx, DrillOptions{}); err == nil {
		t.Fatal("a key store drill without the ledger ran")
	}

	dst := memstore.New()
	sink, _ := NewKeyStoreSink(dst, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Get(f.ctx, "patient-2"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("shredded subject after restore: %v", err)
	}
	for _, r := range []string{"patient-1", "patient-3"} {
		if _, err := dst.Get(f.ctx, r); err != nil {
			t.Fatalf("%s after restore: %v", r, err)
		}
	}
	// The store is no longer empty: refused unless forced.
	sink, _ = NewKeyStoreSink(dst, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("restore into a non-empty store: %v", err)
	}
	sink, _ = NewKeyStoreSink(dst, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{Force: true}); err != nil || sink.Restored != 2 || sink.Shredded != 1 {
		t.Fatalf("forced restore: %v, restored %d shredded %d", err, sink.Restored, sink.Shredded)
	}
	// A ledger that cannot be read stops the restore before any keyset.
	empty := memstore.New()
	sink, _ = NewKeyStoreSink(empty, failingLedger{})
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{}); err == nil {
		t.Fatal("restore with an unreadable ledger succeeded")
	}
	if ks, _ := empty.List(f.ctx, "", 10); len(ks) != 0 {
		t.Fatal("keysets restored although the ledger could not be replayed")
	}
	// A key store backup restores only into a key store sink.
	if _, err := f.repo.Restore(f.ctx, m.ID, NewDirSink(t.TempDir()+"/x"), RestoreOptions{}); !errors.Is(err, ErrSourceKind) {
		t.Fatalf("key store backup into a directory: %v", err)
	}
}

type failingLedger struct{}

func (failingLedger) Replay(context.Context, phi.KeyStore) (int, error) {
	return 0, errors.New("ledger unreadable")
}
