package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/signing"
)

var updateGolden = flag.Bool("update-tree-golden", false, "rewrite the format-v2 golden vectors")

func testKeySet(t testing.TB) signing.KeySet {
	t.Helper()
	ks, err := signing.NewKeySet(testKey(t).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestFrontierMatchesTlog checks the frontier's stored hashes and roots
// against golang.org/x/mod/sumdb/tlog for every size up to 300.
func TestFrontierMatchesTlog(t *testing.T) {
	var ref []tlog.Hash
	r := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = ref[x]
		}
		return out, nil
	})
	var m MemoryTree
	for n := int64(0); n < 300; n++ {
		data := []byte{byte(n), byte(n >> 8)}
		hs, err := tlog.StoredHashes(n, data, r)
		if err != nil {
			t.Fatal(err)
		}
		ref = append(ref, hs...)
		m.AppendLeaf(Hash(tlog.RecordHash(data)))
		if len(m.hashes) != len(ref) {
			t.Fatalf("size %d: %d stored hashes, tlog %d", n+1, len(m.hashes), len(ref))
		}
		for i := range ref {
			if Hash(ref[i]) != m.hashes[i] {
				t.Fatalf("size %d: stored hash %d differs from tlog", n+1, i)
			}
		}
		want, _ := tlog.TreeHash(n+1, r)
		if m.Root() != Hash(want) {
			t.Fatalf("size %d: root differs from tlog", n+1)
		}
		f, err := LoadFrontier(context.Background(), &m, n+1)
		if err != nil || f.Root() != m.Root() {
			t.Fatalf("size %d: loaded frontier: %v", n+1, err)
		}
	}
}

func writeEvents(t *testing.T, l *FileLog, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileLogInclusionProof(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 10; o.SegmentMaxBytes = 8 << 10 })
	writeEvents(t, l, 0, 45)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	keys := testKeySet(t)
	p := l.Reader().Prover(keys)
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil || cp.Size != 45 {
		t.Fatalf("checkpoint: size %d, %v", cp.Size, err)
	}
	for _, seq := range []uint64{1, 7, 32, 45} {
		proof, err := p.ProveInclusion(ctx, seq)
		if err != nil {
			t.Fatalf("prove %d: %v", seq, err)
		}
		b, err := proof.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyInclusionProof(b, keys, "audit")
		if err != nil || got.Record.Seq != seq {
			t.Fatalf("verify %d: %v", seq, err)
		}
	}
	if _, err := p.ProveInclusion(ctx, 46); !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("past the checkpoint: %v", err)
	}
	proof, _ := p.ProveInclusion(ctx, 7)
	b, _ := proof.Marshal()

	other, _ := signing.NewKeySet(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)).Public().(ed25519.PublicKey))
	if _, err := VerifyInclusionProof(b, other, ""); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
	var sm *StreamMismatchError
	if _, err := VerifyInclusionProof(b, keys, "other"); !errors.As(err, &sm) {
		t.Fatalf("another stream: %v", err)
	}
	// a forged root: the note's root line changed
	forged := bytes.Replace(b, []byte(base64Std(cp.Root[:])), []byte(base64Std(make([]byte, 32))), 1)
	if _, err := VerifyInclusionProof(forged, keys, ""); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged root: %v", err)
	}
	// a path hash changed
	bad := proof
	bad.Path = append([]Hash(nil), proof.Path...)
	bad.Path[0][0] ^= 1
	bb, _ := bad.Marshal()
	if _, err := VerifyInclusionProof(bb, keys, ""); !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("bad path: %v", err)
	}
	// another record claimed with this record's proof
	bad = proof
	bad.Record, _ = recordAt(t, l, 8)
	bad.Record.Seq = 7
	bb, _ = bad.Marshal()
	if _, err := VerifyInclusionProof(bb, keys, ""); err == nil {
		t.Fatal("a swapped record verified")
	}
	if _, err := VerifyInclusionProof(b[:len(b)/2], keys, ""); err == nil {
		t.Fatal("half a proof verified")
	}
}

func base64Std(b []byte) string {
	return string(appendBase64(nil, b)[1 : len(appendBase64(nil, b))-1])
}

func recordAt(t *testing.T, l *FileLog, seq uint64) (Record, error) {
	t.Helper()
	for r, err := range l.Reader().Records(context.Background(), seq) {
		return r, err
	}
	return Record{}, errors.New("no record")
}

// TestFileLogTreeUpgradeAndRepair: a v1 log (no tree files) gets its tree
// rebuilt from the records on Open, and a torn tree file is cut and
// completed; the roots are those of the records.
func TestFileLogTreeUpgradeAndRepair(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 10 })
	writeEvents(t, l, 0, 30)
	l.Close()
	keys := testKeySet(t)
	before, err := l.Reader().Prover(keys).TreeCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, TreeHashesFile))
	os.Remove(filepath.Join(dir, TreeCheckpointFile))
	l = openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 10 })
	writeEvents(t, l, 30, 33)
	l.Close()
	after, err := l.Reader().Prover(keys).VerifySince(ctx, before)
	if err != nil || after.Size != 33 {
		t.Fatalf("upgraded: size %d, %v", after.Size, err)
	}
	// a crash in the middle of writing tree hashes
	path := filepath.Join(dir, TreeHashesFile)
	fi, _ := os.Stat(path)
	os.Truncate(path, fi.Size()-40)
	l = openTestLog(t, dir, nil)
	l.Close()
	if _, err := l.Reader().Prover(keys).VerifySince(ctx, before, after); err != nil {
		t.Fatalf("after a torn tree file: %v", err)
	}
	// a damaged stored hash is found by verification, and rebuilt from the
	// records by Open (hashes lost in a crash look the same)
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{0xff}, 3*32)
	f.Close()
	if _, err := l.Reader().Prover(keys).VerifySince(ctx); !errors.Is(err, ErrTreeMismatch) {
		t.Fatalf("damaged tree: %v", err)
	}
	fi, _ = os.Stat(path)
	f, _ = os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt(make([]byte, 64), fi.Size()-64) // zeros where the frontier is
	f.Close()
	l = openTestLog(t, dir, nil)
	l.Close()
	if _, err := l.Reader().Prover(keys).VerifySince(ctx, before, after); err != nil {
		t.Fatalf("after Open rebuilt a damaged tree: %v", err)
	}
}

// TestVerifySinceCutAtCheckpoint: a log cut exactly at a signed checkpoint
// (and its tree and note rolled back with it) still passes v1 verification,
// but fails VerifySince against a checkpoint kept from before the cut.
func TestVerifySinceCutAtCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 10 })
	writeEvents(t, l, 0, 20)
	keys := testKeySet(t)
	p := l.Reader().Prover(keys)
	old, err := p.TreeCheckpoint(ctx)
	if err != nil || old.Size != 20 {
		t.Fatalf("old: %d %v", old.Size, err)
	}
	seg := filepath.Join(dir, segmentName(1))
	segAt20, _ := os.ReadFile(seg)
	hashesAt20, _ := os.ReadFile(filepath.Join(dir, TreeHashesFile))
	writeEvents(t, l, 20, 30)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	kept, _ := p.TreeCheckpoint(ctx)
	l.Close()
	proof, err := p.ProveConsistency(ctx, old, kept)
	if err != nil || VerifyConsistency(old, kept, proof) != nil {
		t.Fatalf("consistency: %v", err)
	}
	if VerifyConsistency(kept, old, proof) == nil {
		t.Fatal("consistency backwards verified")
	}
	if _, err := p.VerifySince(ctx, kept); err != nil {
		t.Fatalf("intact log: %v", err)
	}
	// the cut: segment, tree and note as they were at size 20
	os.WriteFile(seg, segAt20, 0o600)
	os.WriteFile(filepath.Join(dir, TreeHashesFile), hashesAt20, 0o600)
	os.WriteFile(filepath.Join(dir, TreeCheckpointFile), old.Note, 0o600)
	mustVerify(t, dir, testKeys(t)) // the v1 hole this closes
	if _, err := p.VerifySince(ctx, kept); !errors.Is(err, ErrNotExtended) {
		t.Fatalf("cut log: %v", err)
	}
	// the cut log extended with other records of the same count
	l = openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 10 })
	writeEvents(t, l, 100, 110)
	l.Close()
	if _, err := p.VerifySince(ctx, kept); !errors.Is(err, ErrNotExtended) {
		t.Fatalf("rewritten log: %v", err)
	}
	if _, err := p.VerifySince(ctx, old); err != nil {
		t.Fatalf("against the checkpoint before the cut: %v", err)
	}
}

// TestTreeGoldenV2 opens the format-v2 golden vectors (FORMAT.md).
func TestTreeGoldenV2(t *testing.T) {
	noteFile := filepath.Join("testdata", "golden", "v2-checkpoint.note")
	proofFile := filepath.Join("testdata", "golden", "v2-inclusion.proof")
	if *updateGolden {
		var m MemoryTree
		var recs []Record
		c, _ := NewChain(ChainConfig{Stream: "app"})
		for i := range 5 {
			e := sampleEvent(i)
			e.Time = testTime
			r, err := c.Next(e)
			if err != nil {
				t.Fatal(err)
			}
			line, _ := r.Marshal()
			m.AppendLeaf(LeafHash(line))
			recs = append(recs, r)
		}
		cp := TreeCheckpoint{Stream: "app", Size: 5, Root: m.Root(), Head: recs[4].Hash, Time: testTime}
		if err := SignTreeCheckpoint(&cp, testKey(t)); err != nil {
			t.Fatal(err)
		}
		p, err := ProveInclusion(context.Background(), &m, recs[2], cp)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p.Marshal()
		os.WriteFile(noteFile, cp.Note, 0o644)
		os.WriteFile(proofFile, b, 0o644)
	}
	note, err := os.ReadFile(noteFile)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ParseTreeCheckpoint(note, testKeySet(t), "app")
	if err != nil || cp.Size != 5 || !cp.Time.Equal(testTime) {
		t.Fatalf("golden note: %+v %v", cp, err)
	}
	again := TreeCheckpoint{Stream: cp.Stream, Size: cp.Size, Root: cp.Root, Head: cp.Head, Time: cp.Time}
	if err := SignTreeCheckpoint(&again, testKey(t)); err != nil || !bytes.Equal(again.Note, note) {
		t.Fatalf("re-signed golden note differs: %v", err)
	}
	b, err := os.ReadFile(proofFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := VerifyInclusionProof(b, testKeySet(t), "app")
	if err != nil || p.Record.Seq != 3 {
		t.Fatalf("golden proof: %v", err)
	}
}
