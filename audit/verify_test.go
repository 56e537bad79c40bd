package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// writeLog writes n events in one segment and returns the segment's lines
// (anchor first) and its path.
func writeLog(t *testing.T, n int, mod func(*FileOptions)) (string, [][]byte, string) {
	t.Helper()
	dir := t.TempDir()
	l := openTestLog(t, dir, mod)
	for i := 0; i < n; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	path := filepath.Join(dir, segs[0])
	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	return dir, lines[:len(lines)-1], path
}

func rewrite(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func expectVerifyError(t *testing.T, dir string, opts VerifyOptions, seq uint64, p Problem, sentinel error) {
	t.Helper()
	_, err := VerifyDir(context.Background(), dir, opts)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("want *VerifyError, got %v", err)
	}
	if ve.Seq != seq || ve.Problem != p || !errors.Is(err, sentinel) {
		t.Fatalf("want seq %d %s %v, got %v", seq, p, sentinel, err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	// lines[0] is the anchor, lines[i] is record i for 1..6, lines[7] the close checkpoint
	forge := func(t *testing.T, lines [][]byte, i int, mutate func(*Record)) []byte {
		r, err := ParseRecord(lines[i])
		if err != nil {
			t.Fatal(err)
		}
		mutate(&r)
		r.Hash, _ = r.ComputeHash()
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	cases := []struct {
		name    string
		edit    func(t *testing.T, lines [][]byte) [][]byte
		seq     uint64
		problem Problem
		err     error
	}{
		{"modified content", func(t *testing.T, l [][]byte) [][]byte {
			l[3] = bytes.Replace(l[3], []byte(`"role":"clinician"`), []byte(`"role":"admin"`), 1)
			return l
		}, 3, ProblemModified, ErrChainBroken},
		{"modified with recomputed hash", func(t *testing.T, l [][]byte) [][]byte {
			l[3] = forge(t, l, 3, func(r *Record) { r.Event.Outcome = OutcomeFailure })
			return l
		}, 3, ProblemModified, ErrChainBroken},
		{"deleted", func(t *testing.T, l [][]byte) [][]byte {
			return append(append([][]byte{}, l[:3]...), l[4:]...)
		}, 3, ProblemDeleted, ErrChainBroken},
		{"duplicated", func(t *testing.T, l [][]byte) [][]byte {
			return append(append(append([][]byte{}, l[:4]...), l[3]), l[4:]...)
		}, 3, ProblemDuplicated, ErrChainBroken},
		{"reordered", func(t *testing.T, l [][]byte) [][]byte {
			l[3], l[4] = l[4], l[3]
			return l
		}, 3, ProblemReordered, ErrChainBroken},
		{"deleted last record", func(t *testing.T, l [][]byte) [][]byte {
			return append(append([][]byte{}, l[:6]...), l[7])
		}, 6, ProblemDeleted, ErrTruncated},
		{"inserted", func(t *testing.T, l [][]byte) [][]byte {
			fake := forge(t, l, 3, func(r *Record) { r.Event.Target.Subject = "someone-else" })
			return append(append(append([][]byte{}, l[:3]...), fake), l[3:]...)
		}, 3, ProblemInserted, ErrChainBroken},
		{"forged checkpoint signature", func(t *testing.T, l [][]byte) [][]byte {
			c, _ := ParseCheckpoint(l[7])
			c.Sig[0] ^= 1
			b, _ := c.Marshal()
			l[7] = append(b, '\n')
			return l
		}, 6, ProblemSignature, ErrBadSignature},
		{"checkpoint signed by another key", func(t *testing.T, l [][]byte) [][]byte {
			c, _ := ParseCheckpoint(l[7])
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
			c.Sign(other)
			b, _ := c.Marshal()
			l[7] = append(b, '\n')
			return l
		}, 6, ProblemSignature, ErrBadSignature},
		{"non-canonical line", func(t *testing.T, l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`{"event":{`), []byte(`{"event": {`), 1)
			return l
		}, 2, ProblemUnreadable, ErrNonCanonical},
		{"wrong version", func(t *testing.T, l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"v":1}`), []byte(`"v":2}`), 1)
			return l
		}, 2, ProblemUnreadable, ErrVersion},
		{"truncated before the close checkpoint", func(t *testing.T, l [][]byte) [][]byte {
			return l[:5]
		}, 1, ProblemTruncated, ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, lines, path := writeLog(t, 6, nil)
			if len(lines) != 8 {
				t.Fatalf("%d lines", len(lines))
			}
			rewrite(t, path, tc.edit(t, lines))
			opts := testKeys(t)
			opts.RequireSealed = true
			expectVerifyError(t, dir, opts, tc.seq, tc.problem, tc.err)
		})
	}
}

func TestVerifyTruncationAgainstSinkCheckpoint(t *testing.T) {
	var kept []Checkpoint
	dir, lines, path := writeLog(t, 6, func(o *FileOptions) {
		o.CheckpointEvery = 3
		o.CheckpointSink = CheckpointSinkFunc(func(_ context.Context, c Checkpoint) error {
			kept = append(kept, c)
			return nil
		})
	})
	if len(kept) == 0 {
		t.Fatal("sink received nothing")
	}
	opts := testKeys(t)
	opts.Expect = kept
	mustVerify(t, dir, opts)
	// drop the last two records and the checkpoints after them: the chain
	// itself is intact, only the sink's checkpoint reveals the truncation
	var cut [][]byte
	for _, l := range lines {
		if r, err := ParseRecord(l); err == nil && r.Seq > 4 {
			break
		}
		cut = append(cut, l)
	}
	rewrite(t, path, cut)
	plain := testKeys(t)
	mustVerify(t, dir, plain)
	expectVerifyError(t, dir, opts, 5, ProblemTruncated, ErrTruncated)
}

func TestVerifyMissingSegment(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, func(o *FileOptions) { o.SegmentMaxBytes = 1 })
	for i := 0; i < 4; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	segs, _ := listSegments(dir)
	if len(segs) != 4 {
		t.Fatalf("segments %v", segs)
	}
	mustVerify(t, dir, testKeys(t))
	os.Remove(filepath.Join(dir, segs[2]))
	expectVerifyError(t, dir, testKeys(t), 3, ProblemDeleted, ErrTruncated)
	// removing the oldest segment without a recorded purge is truncation too
	dir2 := t.TempDir()
	l = openTestLog(t, dir2, func(o *FileOptions) { o.SegmentMaxBytes = 1 })
	for i := 0; i < 3; i++ {
		l.Write(context.Background(), sampleEvent(i))
	}
	l.Close()
	segs, _ = listSegments(dir2)
	os.Remove(filepath.Join(dir2, segs[0]))
	expectVerifyError(t, dir2, testKeys(t), 1, ProblemAnchor, ErrTruncated)
}

func TestVerifierRecordsFromRows(t *testing.T) {
	// the PostgreSQL writer's path: Records (not lines), checkpoints kept apart
	lines, recs := buildChain(t, 4)
	_ = lines
	key := testKey(t)
	cp := Checkpoint{Stream: "main", Seq: 4, Head: recs[3].Hash, Time: testTime, Reason: CheckpointCount}
	if err := cp.Sign(key); err != nil {
		t.Fatal(err)
	}
	entries := func(yield func(Entry, error) bool) {
		for i := range recs {
			if !yield(Entry{Record: &recs[i]}, nil) {
				return
			}
		}
		yield(Entry{Checkpoint: &cp}, nil)
	}
	res, err := Verify(context.Background(), entries, VerifyOptions{Keys: mustKeySet(t, key.Public().(ed25519.PublicKey)), RequireSealed: true})
	if err != nil || res.Streams[0].LastSeq != 4 {
		t.Fatalf("verify rows: %v %+v", err, res)
	}
	recs[1].Event.Purpose = "marketing"
	_, err = Verify(context.Background(), entries, VerifyOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != 2 || ve.Problem != ProblemModified {
		t.Fatalf("tampered row: %v", err)
	}
}

func TestVerifyLargeLogNamesPositionAcrossBlocks(t *testing.T) {
	dir, lines, path := writeLog(t, 1500, func(o *FileOptions) { o.CheckpointEvery = 100000 })
	mustVerify(t, dir, testKeys(t))
	// line 1201 is record 1200 (line 1 is the anchor)
	lines[1200] = bytes.Replace(lines[1200], []byte(`"field":"dob"`), []byte(`"field":"ssn"`), 1)
	rewrite(t, path, lines)
	_, err := VerifyDir(context.Background(), dir, testKeys(t))
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != 1200 || ve.Line != 1201 || ve.Segment != filepath.Base(path) || ve.Problem != ProblemModified {
		t.Fatalf("got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyDir(ctx, dir, testKeys(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled verify: %v", err)
	}
}

func TestCheckpointFileDetectsTruncation(t *testing.T) {
	cpPath := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	sink, err := OpenCheckpointFile(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	dir, lines, path := writeLog(t, 6, func(o *FileOptions) { o.CheckpointEvery = 2; o.CheckpointSink = sink })
	sink.Close()
	// a crash while appending leaves a partial line, which is ignored
	f, _ := os.OpenFile(cpPath, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"checkpoint":{"head":"00`))
	f.Close()
	latest, err := LatestCheckpoints(cpPath, testKey(t).Public().(ed25519.PublicKey))
	if err != nil || len(latest) != 1 || latest[0].Seq != 6 {
		t.Fatalf("latest: %v %+v", err, latest)
	}
	opts := testKeys(t)
	opts.Expect = latest
	mustVerify(t, dir, opts)
	// cut the log back to record 4 and its checkpoint: it verifies alone,
	// but not against the checkpoint file
	var cut [][]byte
	for _, l := range lines {
		cut = append(cut, l)
		if c, err := ParseCheckpoint(l); err == nil && c.Seq == 4 {
			break
		}
	}
	rewrite(t, path, cut)
	mustVerify(t, dir, testKeys(t))
	expectVerifyError(t, dir, opts, 5, ProblemTruncated, ErrTruncated)
	if err := sink.WriteCheckpoint(context.Background(), latest[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	os.WriteFile(cpPath, []byte("not a checkpoint\n"), 0o600)
	if _, err := LatestCheckpoints(cpPath, testKey(t).Public().(ed25519.PublicKey)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage checkpoint file: %v", err)
	}
}
