package backup

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// storedUnder returns the total size of the chunk objects in f's target.
func storedChunkBytes(t *testing.T, f *fixture) int64 {
	t.Helper()
	var n int64
	if err := f.target.List(f.ctx, chunkPrefix, func(o ObjectInfo) error { n += o.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func noise(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// TestInsertionStoresFewChunks: 160 bytes inserted near the start of a
// 32 MiB file (average chunk 256 KiB) change only the chunks around them,
// so the next backup stores about one average chunk, not the whole file.
func TestInsertionStoresFewChunks(t *testing.T) {
	const avg = 256 << 10
	f := newFixtureWith(t, Config{ChunkSize: avg})
	src := t.TempDir()
	p := filepath.Join(src, "dump.sql")
	data := noise(7, 32<<20)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	m1, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if c := m1.Totals.Chunks; c < 64 || c > 256 {
		t.Fatalf("32 MiB cut into %d chunks, want about 128", c)
	}
	shifted := append(append(bytes.Clone(data[:4096]), noise(8, 160)...), data[4096:]...)
	if err := os.WriteFile(p, shifted, 0o600); err != nil {
		t.Fatal(err)
	}
	before := storedChunkBytes(t, f)
	m2, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	added := storedChunkBytes(t, f) - before
	// 2 MiB for a 200 MiB dump at 1 MiB average is two average chunks.
	if m2.Totals.NewChunks > 2 || added > 2*avg || m2.Totals.NewStored != added {
		t.Fatalf("insertion stored %d new chunks, %d bytes (manifest says %d)", m2.Totals.NewChunks, added, m2.Totals.NewStored)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := f.repo.Restore(f.ctx, m2.ID, NewDirSink(dest), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "dump.sql")); !bytes.Equal(got, shifted) {
		t.Fatal("restored shifted dump differs")
	}
}

// clinicalText returns n bytes of varied note-like text.
func clinicalText(seed byte, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{seed}))
	words := []string{"patient", "reports", "mild", "pain", "since", "visit", "blood", "pressure", "stable",
		"prescribed", "follow-up", "in", "two", "weeks", "no", "allergies", "known", "history", "of", "asthma"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "%04d-%02d-%02d ", 2000+r.IntN(26), 1+r.IntN(12), 1+r.IntN(28))
		for i := 0; i < 8+r.IntN(20); i++ {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "bp %d/%d\n", 100+r.IntN(60), 60+r.IntN(40))
	}
	return b.Bytes()[:n]
}

// TestTextCompresses: clinical text is stored compressed (at most half its
// size), incompressible bytes raw; both restore and verify.
func TestTextCompresses(t *testing.T) {
	f := newFixture(t)
	src := t.TempDir()
	text := clinicalText(1, 4<<20)
	os.WriteFile(filepath.Join(src, "notes.txt"), text, 0o600)
	m, err := f.repo.Backup(f.ctx, DirSource{Root: src})
	if err != nil {
		t.Fatal(err)
	}
	if stored := storedChunkBytes(t, f); stored > int64(len(text))/2 || stored != m.Totals.NewStored {
		t.Fatalf("4 MiB of text stored as %d bytes (manifest says %d)", stored, m.Totals.NewStored)
	}
	g := newFixture(t)
	src2 := t.TempDir()
	raw := noise(3, 1<<20)
	os.WriteFile(filepath.Join(src2, "raw.bin"), raw, 0o600)
	m2, err := g.repo.Backup(g.ctx, DirSource{Root: src2})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Totals.NewStored != m2.Totals.NewBytes+m2.Totals.NewChunks*int64(ChunkOverhead) {
		t.Fatalf("random bytes stored as %d, want raw %d + overhead", m2.Totals.NewStored, m2.Totals.NewBytes)
	}
	for _, c := range []struct {
		f    *fixture
		id   string
		name string
		want []byte
	}{{f, m.ID, "notes.txt", text}, {g, m2.ID, "raw.bin", raw}} {
		if _, err := c.f.repo.Verify(c.f.ctx, c.id, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(t.TempDir(), "out")
		if _, err := c.f.repo.Restore(c.f.ctx, c.id, NewDirSink(dest), RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dest, c.name)); !bytes.Equal(got, c.want) {
			t.Fatalf("%s restored wrong", c.name)
		}
	}
}

// sealedZstd seals payload as a compressed version-2 chunk that declares
// size, as only a holder of the repository key (or a bug) could.
func sealedZstd(k *repoKeys, payload []byte, name [32]byte, size int) []byte {
	out := append([]byte(chunkMagic), chunkVersion2, encZstd)
	nonce := make([]byte, nonceSize)
	out = append(out, nonce...)
	return k.chunk.Seal(out, nonce, payload, k.chunkADv2(nil, name, encZstd, size))
}

func allocatedBy(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestCompressionBomb: an authentic chunk whose frame decompresses beyond
// its declared size is refused without allocating the excess, whether the
// frame declares the large size or hides it in a second frame.
func TestCompressionBomb(t *testing.T) {
	f := newFixture(t)
	k := f.repo.keys
	const declared = 1 << 10
	big := make([]byte, 64<<20)
	huge, _ := compress(nil, big)
	small, _ := compress(nil, make([]byte, declared))
	hidden := append(bytes.Clone(small), huge...)
	var name [32]byte
	for label, payload := range map[string][]byte{"declared": huge, "second frame": hidden} {
		stored := sealedZstd(k, payload, name, declared)
		var err error
		n := allocatedBy(func() { _, err = k.openChunk(nil, stored, name, declared, nil) })
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s bomb: %v, want ErrCorrupt", label, err)
		}
		if n > 8<<20 {
			t.Fatalf("%s bomb allocated %d bytes", label, n)
		}
	}
}

// TestCompressedChunkDamage: every bit flip and every truncation of a
// compressed chunk, and a flipped compression flag, fail with ErrCorrupt.
func TestCompressedChunkDamage(t *testing.T) {
	f := newFixture(t)
	k := f.repo.keys
	pt := clinicalText(2, 3000)
	h := k.newNameHash()
	h.Write(pt)
	var name [32]byte
	h.Sum(name[:0])
	stored, err := k.sealChunk(nil, pt, name, &sealScratch{})
	if err != nil || stored[5] != encZstd {
		t.Fatalf("text not compressed: %v", err)
	}
	if got, err := k.openChunk(nil, bytes.Clone(stored), name, len(pt), nil); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("authentic chunk: %v", err)
	}
	check := func(what string, b []byte) {
		t.Helper()
		if _, err := k.openChunk(nil, b, name, len(pt), nil); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("%s: %v, want ErrCorrupt", what, err)
		}
	}
	for i := 0; i < len(stored)*8; i++ {
		b := bytes.Clone(stored)
		b[i/8] ^= 1 << (i % 8)
		check(fmt.Sprintf("bit %d flipped", i), b)
	}
	for n := 0; n < len(stored); n++ {
		check(fmt.Sprintf("truncated to %d", n), bytes.Clone(stored[:n]))
	}
	b := bytes.Clone(stored)
	b[5] = encRaw
	check("compression flag cleared", b)
	if _, err := k.openChunk(nil, bytes.Clone(stored), name, len(pt)+1, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong declared size: %v", err)
	}
}

// TestMixedVersionRepository: new code opens the version-1 golden
// repository, adds a version-2 backup (reusing the version-1 chunk of an
// unchanged small file), and lists, verifies, drills, restores and prunes
// backups of both versions.
func TestMixedVersionRepository(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join(goldenDir, "repo"), dir)
	tg, _ := NewDirTarget(dir)
	f := &fixture{t: t, ctx: t.Context(), target: tg, kek: testKEK(t, 1)}
	repo, err := Open(f.ctx, tg, f.kek, Config{Audit: audit.Discard{}})
	if err != nil {
		t.Fatal(err)
	}
	if repo.FormatVersion() != 1 || repo.ChunkSize() != DefaultChunkSize {
		t.Fatalf("v1 repository: version %d, chunk size %d", repo.FormatVersion(), repo.ChunkSize())
	}
	src := t.TempDir()
	for name, b := range goldenFiles() {
		p := filepath.Join(src, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o750)
		os.WriteFile(p, b, 0o640)
	}
	m, err := repo.Backup(f.ctx, DirSource{Root: src, Name: "golden"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 2 || m.Totals.NewChunks != 1 {
		t.Fatalf("v2 backup into a v1 repository: version %d, %d new chunks, want 1 (data.bin)", m.Version, m.Totals.NewChunks)
	}
	list, err := repo.List(f.ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	versions := map[int]int{}
	for _, in := range list {
		versions[in.Format]++
		if _, err := repo.Verify(f.ctx, in.ID, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		if rep, err := repo.Drill(f.ctx, DrillOptions{ID: in.ID, ScratchDir: t.TempDir(), Ledger: noLedger{}}); err != nil || !rep.Pass {
			t.Fatalf("drill %s: %+v, %v", in.ID, rep, err)
		}
	}
	if versions[1] != 2 || versions[2] != 1 {
		t.Fatalf("listed format versions %v", versions)
	}
	rep, err := repo.Prune(f.ctx, PruneOptions{Policy: Policy{KeepLast: 1}})
	if err != nil || len(rep.Removed) != 1 || rep.ChunksDeleted == 0 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := repo.Restore(f.ctx, m.ID, NewDirSink(dest), RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range goldenFiles() {
		if got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(name))); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s restored wrong after prune (%v)", name, err)
		}
	}
}
