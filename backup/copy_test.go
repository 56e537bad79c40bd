package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// TestCopyBetweenRepositories: a backup (of version 1, from the golden
// repository, and of version 2) copied to a second repository keeps its ID,
// source and times, verifies there, restores the same bytes, and a second
// copy of similar data uploads only the chunks the destination lacks.
func TestCopyBetweenRepositories(t *testing.T) {
	f := newFixtureWith(t, Config{ChunkSize: 64 << 10})
	src := t.TempDir()
	data := noise(11, 4<<20)
	os.WriteFile(filepath.Join(src, "dump.sql"), data, 0o600)
	os.WriteFile(filepath.Join(src, "notes.txt"), clinicalText(4, 1<<20), 0o600)
	m1, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "clinic"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "dump.sql"), append(append(bytes.Clone(data[:1000]), "inserted"...), data[1000:]...), 0o600)
	m2, err := f.repo.Backup(f.ctx, DirSource{Root: src, Name: "clinic"})
	if err != nil {
		t.Fatal(err)
	}
	g := newFixture(t)
	rep, err := Copy(f.ctx, f.repo, g.repo, m1.ID)
	if err != nil || !rep.Copied || rep.Verify == nil || !rep.Verify.Full || len(rep.Verify.Problems) != 0 {
		t.Fatalf("copy: %+v, %v", rep, err)
	}
	got := rep.Manifest
	if got.ID != m1.ID || got.Source.Name != m1.Source.Name || got.Source.Kind != m1.Source.Kind || !got.Started.Equal(m1.Started) || !got.Finished.Equal(m1.Finished) || got.Totals.Bytes != m1.Totals.Bytes {
		t.Fatalf("copied manifest %+v, original %+v", got, m1)
	}
	rep2, err := Copy(f.ctx, f.repo, g.repo, m2.ID)
	if err != nil || !rep2.Copied {
		t.Fatalf("second copy: %+v, %v", rep2, err)
	}
	if n := rep2.Manifest.Totals.NewChunks; n > 2 {
		t.Fatalf("second copy uploaded %d chunks, want at most 2 (deduplicated at the destination)", n)
	}
	again, err := Copy(f.ctx, f.repo, g.repo, m2.ID)
	if err != nil || again.Copied || again.Verify == nil {
		t.Fatalf("copy of a backup the destination holds: %+v, %v", again, err)
	}
	list, err := g.repo.List(g.ctx)
	if err != nil || len(list) != 2 || list[0].Verified.IsZero() {
		t.Fatalf("destination lists %+v, %v", list, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := g.repo.Restore(g.ctx, m2.ID, NewDirSink(dest), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if treeDigest(t, dest) == "" {
		t.Fatal("empty restore")
	}
	orig := filepath.Join(t.TempDir(), "orig")
	if _, err := f.repo.Restore(f.ctx, m2.ID, NewDirSink(orig), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if treeDigest(t, dest) != treeDigest(t, orig) {
		t.Fatal("the copy restores other content than the original")
	}
	// The source's audit trail records the export, the destination's the
	// backup with its origin.
	has := func(evs []audit.Event, key, val string) bool {
		for _, e := range evs {
			if e.Attrs[key] == val {
				return true
			}
		}
		return false
	}
	if !has(f.audit.EventsWith(audit.ActionExport), "to_repository", g.repo.ID()) ||
		!has(g.audit.EventsWith(audit.ActionBackup), "copied_from", f.repo.ID()) {
		t.Fatal("copy not audited on both sides")
	}
}

// TestCopyDamagedSourceCopiesNothing: a corrupt chunk in the source fails
// the copy with ErrCorrupt and leaves no backup at the destination.
func TestCopyDamagedSourceCopiesNothing(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	writeTree(t, src)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	var name [32]byte
	for _, e := range m.Entries {
		if len(e.Chunks) > 0 {
			name, _ = decodeChunkName(e.Chunks[0].Name)
			break
		}
	}
	p := filepath.Join(f.target.root, filepath.FromSlash(chunkObject(name)))
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o600)
	g := newFixture(t)
	if _, err := Copy(f.ctx, f.repo, g.repo, m.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("copy of a damaged backup: %v, want ErrCorrupt", err)
	}
	if list, _ := g.repo.List(g.ctx); len(list) != 0 {
		t.Fatalf("destination lists %+v", list)
	}
}
