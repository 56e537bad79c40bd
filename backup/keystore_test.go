package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
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
	s := memstore.New(memstore.Config{})
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

	dst := memstore.New(memstore.Config{})
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
	empty := memstore.New(memstore.Config{})
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

func TestFileKeyStoreSinkStagesAndSwaps(t *testing.T) {
	f := newFixture(t)
	parent := t.TempDir()
	live := filepath.Join(parent, "keys")
	store, err := filestore.Open(live, filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []string{"patient-1", "patient-2"} {
		if err := store.Create(f.ctx, phi.WrappedKeyset{Ref: r, KEKID: "local:x", Ciphertext: []byte{byte(i), 9}}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := f.repo.Backup(f.ctx, KeyStoreSource{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ledger := shredLedger{subjects: []string{"patient-2"}}
	// A keyset created after the backup.
	store.Create(f.ctx, phi.WrappedKeyset{Ref: "patient-3", KEKID: "local:x", Ciphertext: []byte{3}})

	sink, _ := NewFileKeyStoreSink(live, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over a live store: %v, want ErrExists", err)
	}
	assertNoStaging(t, parent)

	// A corrupt backup leaves the live store as it was.
	ref := m.Entries[0].Chunks[0]
	n, _ := decodeChunkName(ref.Name)
	obj := filepath.Join(f.target.Root(), filepath.FromSlash(chunkObject(n)))
	good, _ := os.ReadFile(obj)
	os.WriteFile(obj, good[:len(good)-1], 0o600)
	sink, _ = NewFileKeyStoreSink(live, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{Force: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restore of a corrupt backup: %v", err)
	}
	assertNoStaging(t, parent)
	if _, err := store.Get(f.ctx, "patient-3"); err != nil {
		t.Fatalf("a failed restore changed the live store: %v", err)
	}
	os.WriteFile(obj, good, 0o600)

	sink, _ = NewFileKeyStoreSink(live, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	assertNoStaging(t, parent)
	if sink.Restored != 1 || sink.Shredded != 1 {
		t.Fatalf("restored %d, shredded %d", sink.Restored, sink.Shredded)
	}
	restored, err := filestore.Open(live, filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restored.Get(f.ctx, "patient-1"); err != nil {
		t.Fatalf("patient-1: %v", err)
	}
	if _, err := restored.Get(f.ctx, "patient-2"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("patient-2: %v, want ErrShredded", err)
	}
	if _, err := restored.Get(f.ctx, "patient-3"); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatalf("patient-3 (created after the backup): %v, want ErrKeyNotFound", err)
	}
	// Into a directory that does not exist yet.
	fresh := filepath.Join(parent, "fresh")
	sink, _ = NewFileKeyStoreSink(fresh, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}
