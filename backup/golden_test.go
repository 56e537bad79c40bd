package backup

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden repository and the fuzz seed corpora")

const goldenDir = "testdata/golden-v1"

// goldenFiles is the source tree of the golden directory backup.
func goldenFiles() map[string][]byte {
	pattern := make([]byte, MinChunkSize+4464) // two chunks, the second short
	for i := range pattern {
		pattern[i] = byte(i * 7)
	}
	return map[string][]byte{
		"notes/visit.txt": []byte("golden vector v1\n"),
		"data.bin":        pattern,
		"copy.bin":        pattern, // deduplicated against data.bin
		"empty":           nil,
	}
}

var goldenKeysets = []phi.WrappedKeyset{
	{Ref: "patient-1", KEKID: "local:test", Ciphertext: []byte("wrapped-1"), KeyIDs: []uint32{11}},
	{Ref: "patient-2", KEKID: "local:test", Ciphertext: []byte("wrapped-2"), KeyIDs: []uint32{21, 22}},
}

var goldenTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// writeGolden creates the golden repository. Run with -update only when the
// format version changes; older repositories must keep opening.
func writeGolden(t *testing.T) {
	ctx := context.Background()
	os.RemoveAll(goldenDir)
	tg, err := NewDirTarget(filepath.Join(goldenDir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := Init(ctx, tg, testKEK(t, 1), Config{Audit: audit.Discard{}, ChunkSize: MinChunkSize, Clock: clock.NewFake(goldenTime)})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for name, b := range goldenFiles() {
		p := filepath.Join(src, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o750)
		os.WriteFile(p, b, 0o640)
		os.Chtimes(p, goldenTime, goldenTime)
	}
	os.Chtimes(filepath.Join(src, "notes"), goldenTime, goldenTime)
	dm, err := repo.Backup(ctx, DirSource{Root: src, Name: "golden"})
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Config{})
	for _, k := range goldenKeysets {
		if err := store.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	km, err := repo.Backup(ctx, KeyStoreSource{Store: store, Name: "keys"})
	if err != nil {
		t.Fatal(err)
	}
	ids := dm.ID + "\n" + km.ID + "\n"
	if err := os.WriteFile(filepath.Join(goldenDir, "ids"), []byte(ids), 0o644); err != nil {
		t.Fatal(err)
	}
	writeSeeds(t, repo, dm, km)
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, st os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if st.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGoldenV1 opens the committed version-1 repository, verifies both
// backups and restores them, comparing with the known content.
func TestGoldenV1(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	ctx := context.Background()
	ids, err := os.ReadFile(filepath.Join(goldenDir, "ids"))
	if err != nil {
		t.Fatal(err)
	}
	idl := strings.Fields(string(ids))
	dir := t.TempDir() // Verify writes records: work on a copy
	copyTree(t, filepath.Join(goldenDir, "repo"), dir)
	tg, _ := NewDirTarget(dir)
	repo, err := Open(ctx, tg, testKEK(t, 1), Config{Audit: audit.Discard{}, Actor: audit.Actor{}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := repo.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	for _, id := range idl {
		if _, err := repo.Verify(ctx, id, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := repo.Manifest(ctx, idl[0])
	if err != nil || m.Source.Name != "golden" || !m.Started.Equal(goldenTime) || m.Totals.NewChunks != 3 {
		t.Fatalf("golden manifest %+v, %v", m, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := repo.Restore(ctx, idl[0], NewDirSink(dest), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range goldenFiles() {
		p := filepath.Join(dest, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		st, _ := os.Stat(p)
		if err != nil || !bytes.Equal(got, want) || st.Mode().Perm() != 0o640 || !st.ModTime().Equal(goldenTime) {
			t.Fatalf("golden %s restored wrong (%v)", name, err)
		}
	}
	store := memstore.New(memstore.Config{})
	sink, _ := NewKeyStoreSink(store, noLedger{})
	if _, err := repo.Restore(ctx, idl[1], sink, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range goldenKeysets {
		got, err := store.Get(ctx, want.Ref)
		if err != nil || !bytes.Equal(got.Ciphertext, want.Ciphertext) || fmt.Sprint(got.KeyIDs) != fmt.Sprint(want.KeyIDs) {
			t.Fatalf("golden keyset %s: %+v, %v", want.Ref, got, err)
		}
	}
}

// noLedger is a ledger with no disposals, for tests.
type noLedger struct{}

func (noLedger) Replay(context.Context, phi.KeyStore) (int, error) { return 0, nil }
