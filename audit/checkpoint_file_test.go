package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testCheckpoint(t *testing.T, seq uint64) Checkpoint {
	t.Helper()
	c := Checkpoint{Stream: DefaultStream, Seq: seq, Head: Hash{byte(seq)}, Time: testTime, Reason: CheckpointCount}
	if err := c.Sign(testKey(t)); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantLatest(t *testing.T, path string, seq uint64) {
	t.Helper()
	latest, err := LatestCheckpoints(path, testKey(t).Public().(ed25519.PublicKey))
	if err != nil || len(latest) != 1 || latest[0].Seq != seq {
		t.Fatalf("latest checkpoints: %v %+v, want seq %d", err, latest, seq)
	}
}

// A crash mid-append leaves a fragment; reopening must cut it off, or the
// next checkpoint is glued to it and the whole file becomes unreadable.
func TestCheckpointFileRepairsTornTailOnOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	s, err := OpenCheckpointFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	good, _ := os.ReadFile(path)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"checkpoint":{"head":"00`))
	f.Close()

	s, err = OpenCheckpointFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Fatalf("torn tail not cut on open: %q", got)
	}
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 2)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	wantLatest(t, path, 2)

	// a file that is nothing but a fragment is emptied
	os.WriteFile(path, []byte(`{"checkpoint":`), 0o600)
	s, err = OpenCheckpointFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("fragment-only file not emptied: %d bytes", fi.Size())
	}
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 3)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	wantLatest(t, path, 3)
}

// A failed write or sync must not leave its bytes behind for the next
// checkpoint to be appended to.
func TestCheckpointFileCutsBackFailedWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	s, err := OpenCheckpointFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 1)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	ioErr := errors.New("injected I/O error")

	// a short write (the disk filled up half way through the line)
	s.write = func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, ioErr
	}
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 2)); !errors.Is(err, ioErr) {
		t.Fatalf("failed write: %v", err)
	}
	s.write = nil
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Fatalf("failed write not cut back: %q", got)
	}

	// a failed sync: the line was written but is not known to be durable
	s.sync = func(*os.File) error { s.sync = nil; return ioErr }
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 3)); !errors.Is(err, ioErr) {
		t.Fatalf("failed sync: %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Fatalf("failed sync not cut back: %q", got)
	}

	// the cut-back itself fails: the next write retries it first
	s.write = func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, ioErr
	}
	s.sync = func(*os.File) error { return ioErr }
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 4)); !errors.Is(err, ioErr) {
		t.Fatalf("failed write and cut-back: %v", err)
	}
	s.write, s.sync = nil, nil
	if err := s.WriteCheckpoint(ctx, testCheckpoint(t, 5)); err != nil {
		t.Fatal(err)
	}
	wantLatest(t, path, 5)
	if got, _ := os.ReadFile(path); bytes.Count(got, []byte("\n")) != 2 {
		t.Fatalf("checkpoint file holds failed writes: %q", got)
	}
}

// A forged line in the checkpoint file (a real checkpoint with a zeroed
// signature and a higher seq, and a checkpoint signed by a foreign key) must
// be reported as a bad signature naming its line, never as truncation of
// the untouched log, and must not hide the genuine latest checkpoint.
func TestCheckpointFileForgedLineIsBadSignature(t *testing.T) {
	cpPath := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	sink, err := OpenCheckpointFile(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	dir, _, _ := writeLog(t, 6, func(o *FileOptions) { o.CheckpointEvery = 2; o.CheckpointSink = sink })
	sink.Close()
	pub := testKey(t).Public().(ed25519.PublicKey)
	genuine, err := LatestCheckpoints(cpPath, pub)
	if err != nil || len(genuine) != 1 || genuine[0].Seq != 6 {
		t.Fatalf("latest: %v %+v", err, genuine)
	}
	before, _ := os.ReadFile(cpPath)
	nLines := int64(bytes.Count(before, []byte("\n")))

	zeroed := genuine[0]
	zeroed.Seq, zeroed.Head = 9, Hash{9}
	zeroed.Sig = make([]byte, ed25519.SignatureSize)
	_, foreignKey, _ := ed25519.GenerateKey(nil)
	foreign := genuine[0]
	foreign.Seq = 12
	if err := foreign.Sign(foreignKey); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(cpPath, os.O_WRONLY|os.O_APPEND, 0)
	for _, c := range []Checkpoint{zeroed, foreign} {
		b, _ := c.Marshal()
		f.Write(append(b, '\n'))
	}
	f.Close()

	latest, err := LatestCheckpoints(cpPath, pub)
	if len(latest) != 1 || latest[0].Seq != 6 || latest[0].Head != genuine[0].Head {
		t.Fatalf("a forged line hid the genuine checkpoint: %+v", latest)
	}
	var le *LineError
	if !errors.Is(err, ErrBadSignature) || !errors.As(err, &le) || le.Line != nLines+1 || le.Segment != "checkpoints.jsonl" {
		t.Fatalf("want bad signature at line %d, got %v", nLines+1, err)
	}
	if !strings.Contains(err.Error(), "checkpoints.jsonl:"+strconv.FormatInt(nLines+2, 10)+":") {
		t.Fatalf("second forged line not named: %v", err)
	}

	// the log is untouched: it verifies against the genuine checkpoints
	opts := testKeys(t)
	opts.Expect = latest
	mustVerify(t, dir, opts)
	// and a forged expectation is a bad signature, never truncation
	for _, c := range []Checkpoint{zeroed, foreign} {
		opts.Expect = append(append([]Checkpoint(nil), latest...), c)
		expectVerifyError(t, dir, opts, c.Seq, ProblemSignature, ErrBadSignature)
	}
	if _, err := LatestCheckpoints(cpPath); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("no keys: %v", err)
	}
}

// FuzzLatestCheckpoints: reading any checkpoint file never panics; every
// error is typed; every returned checkpoint verifies under the trusted key
// (a forged line is never returned), and a bad signature names its line.
func FuzzLatestCheckpoints(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := key.Public().(ed25519.PublicKey)
	c := Checkpoint{Stream: DefaultStream, Seq: 3, Head: Hash{3}, Time: testTime, Reason: CheckpointCount}
	if err := c.Sign(key); err != nil {
		f.Fatal(err)
	}
	good, _ := c.Marshal()
	forged := c
	forged.Seq, forged.Sig = 9, make([]byte, ed25519.SignatureSize)
	bad, _ := forged.Marshal()
	f.Add(append(good, '\n'))
	f.Add(append(append(append(good, '\n'), bad...), '\n'))
	f.Add(append(append(good, '\n'), good[:40]...))
	f.Add([]byte("not a checkpoint\n"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "checkpoints.jsonl")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := LatestCheckpoints(path, pub)
		var le *LineError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("untyped error %v", err)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) && out != nil {
			t.Fatalf("checkpoints returned beside a read error: %v", err)
		}
		for _, c := range out {
			if c.Verify(pub) != nil {
				t.Fatalf("returned a checkpoint that does not verify: %+v", c)
			}
		}
	})
}
