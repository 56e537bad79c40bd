package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hipaakit/hipaakit/phi/memstore"
)

// twoDumps is a key store source that emits two keysets entries, as a
// (validly signed) manifest from another writer could hold.
type twoDumps struct{ a, b KeyStoreSource }

func (twoDumps) Info() SourceInfo { return SourceInfo{Kind: "keystore"} }

func (s twoDumps) Walk(ctx context.Context, emit func(Item) error) error {
	if err := s.a.Walk(ctx, emit); err != nil {
		return err
	}
	return s.b.Walk(ctx, func(it Item) error {
		it.Path = "keysets-2"
		return emit(it)
	})
}

// TestKeyStoreSinkRejectsTwoDumps: a manifest with two keysets entries is
// refused before any keyset is created (Commit restores one dump; it used to
// create the first dump's keysets and then fail on the second header).
func TestKeyStoreSinkRejectsTwoDumps(t *testing.T) {
	f := newFixture(t)
	m, err := f.repo.Backup(f.ctx, twoDumps{
		a: KeyStoreSource{Store: keyStoreWith(t, "patient-1", "patient-2")},
		b: KeyStoreSource{Store: keyStoreWith(t, "patient-3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	ledger := shredLedger{}
	dst := memstore.New(memstore.Config{})
	sink, _ := NewKeyStoreSink(dst, ledger)
	if _, err := f.repo.Restore(f.ctx, m.ID, sink, RestoreOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restore of two dumps: %v", err)
	}
	if ks, _ := dst.List(f.ctx, "", 10); len(ks) != 0 || sink.Restored != 0 {
		t.Fatalf("%d keysets created by a refused restore", len(ks))
	}
	// Entry refuses a second dump even when Begin saw a manifest with one.
	sink, _ = NewKeyStoreSink(memstore.New(memstore.Config{}), ledger)
	one := &Manifest{Source: SourceInfo{Kind: "keystore"}, Entries: []Entry{{Path: "keysets", Type: EntryKeysets}}}
	if err := sink.Begin(f.ctx, one, false); err != nil {
		t.Fatal(err)
	}
	defer sink.Abort(f.ctx)
	for i, want := range []bool{true, false} {
		var dump []byte
		if err := (KeyStoreSource{Store: keyStoreWith(t, "patient-9")}).Walk(f.ctx, func(it Item) error {
			dump, err = io.ReadAll(it.Body)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := sink.Entry(f.ctx, &Entry{Path: "keysets", Type: EntryKeysets}, bytes.NewReader(dump)); (err == nil) != want {
			t.Fatalf("Entry %d: %v", i, err)
		}
	}
}
