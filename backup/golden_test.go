package backup

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
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

// goldenDir holds the version-1 repository, written by code that no
// longer exists (version 1 is read, never written); goldenDirV2 the
// version-2 one, rewritten by -update.
const (
	goldenDir   = "testdata/golden-v1"
	goldenDirV2 = "testdata/golden-v2"
)

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

// writeGolden creates the golden repository of the current version in dir.
// Run with -update only when the format version changes; older
// repositories must keep opening.
func writeGolden(t *testing.T, dir string, files map[string][]byte) {
	ctx := context.Background()
	os.RemoveAll(dir)
	tg, err := NewDirTarget(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := Init(ctx, tg, testKEK(t, 1), Config{Audit: audit.Discard{}, ChunkSize: MinChunkSize, Clock: clock.NewFake(goldenTime)})
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for name, b := range files {
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
	if err := os.WriteFile(filepath.Join(dir, "ids"), []byte(ids), 0o644); err != nil {
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
	m := checkGolden(t, goldenDir, goldenFiles())
	if m.Version != 1 || m.Totals.NewChunks != 3 {
		t.Fatalf("golden v1 manifest: version %d, %d new chunks", m.Version, m.Totals.NewChunks)
	}
}

// goldenFilesV2 is the source tree of the version-2 golden backup: text
// that compresses, pseudo-random bytes that do not and are cut into
// several content-defined chunks, a duplicate and an empty file.
func goldenFilesV2() map[string][]byte {
	noise := make([]byte, 5*MinChunkSize+777)
	rand.NewChaCha8([32]byte{2}).Read(noise)
	return map[string][]byte{
		"notes/visit.txt": bytes.Repeat([]byte("golden vector v2: the patient reports no pain.\n"), 500),
		"data.bin":        noise,
		"copy.bin":        noise,
		"empty":           nil,
	}
}

// TestGoldenV2 opens the committed version-2 repository (compressed and
// raw chunks, content-defined chunking), verifies, drills and restores it.
func TestGoldenV2(t *testing.T) {
	if *update {
		writeGolden(t, goldenDirV2, goldenFilesV2())
	}
	m := checkGolden(t, goldenDirV2, goldenFilesV2())
	if m.Version != 2 || m.ChunkSize != 4*MinChunkSize || m.Totals.NewStored >= m.Totals.NewBytes {
		t.Fatalf("golden v2 manifest: version %d, chunk size %d, stored %d of %d", m.Version, m.ChunkSize, m.Totals.NewStored, m.Totals.NewBytes)
	}
}

// checkGolden opens the golden repository in dir, verifies both backups,
// drills and restores them, and returns the directory backup's manifest.
func checkGolden(t *testing.T, gdir string, files map[string][]byte) *Manifest {
	ctx := context.Background()
	ids, err := os.ReadFile(filepath.Join(gdir, "ids"))
	if err != nil {
		t.Fatal(err)
	}
	idl := strings.Fields(string(ids))
	dir := t.TempDir() // Verify writes records: work on a copy
	copyTree(t, filepath.Join(gdir, "repo"), dir)
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
		if rep, err := repo.Drill(ctx, DrillOptions{ID: id, ScratchDir: t.TempDir(), Ledger: noLedger{}}); err != nil || !rep.Pass {
			t.Fatalf("drill %s: %+v, %v", id, rep, err)
		}
	}
	m, err := repo.Manifest(ctx, idl[0])
	if err != nil || m.Source.Name != "golden" || !m.Started.Equal(goldenTime) {
		t.Fatalf("golden manifest %+v, %v", m, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := repo.Restore(ctx, idl[0], NewDirSink(dest), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
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
	return m
}

// noLedger is a ledger with no disposals, for tests.
type noLedger struct{}

func (noLedger) Replay(context.Context, phi.KeyStore) (int, error) { return 0, nil }
