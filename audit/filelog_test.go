package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

func openTestLog(t *testing.T, dir string, mod func(*FileOptions)) *FileLog {
	t.Helper()
	opts := FileOptions{Signer: testKey(t), Clock: clock.NewFake(testTime)}
	if mod != nil {
		mod(&opts)
	}
	l, err := OpenFileLog(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func testKeys(t testing.TB) VerifyOptions {
	return VerifyOptions{Keys: mustKeySet(t, testKey(t).Public().(ed25519.PublicKey))}
}

func mustVerify(t *testing.T, dir string, opts VerifyOptions) Result {
	t.Helper()
	res, err := VerifyDir(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func TestFileLogConcurrentWritesVerify(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 50; o.SegmentMaxBytes = 16 << 10 })
	var wg sync.WaitGroup
	const writers, each = 8, 60
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Write(context.Background(), sampleEvent(w*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if got := l.DurableSeq(); got != writers*each {
		t.Fatalf("durable seq %d", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(context.Background(), sampleEvent(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	opts := testKeys(t)
	opts.RequireSealed = true
	res := mustVerify(t, dir, opts)
	s := res.Streams[0]
	if s.Stream != DefaultStream || s.LastSeq != writers*each || s.Records != writers*each || s.Unsealed != 0 || s.Checkpoints < 5 {
		t.Fatalf("result %+v", s)
	}
	r, _ := OpenFileReader(dir)
	segs, _ := r.Segments()
	if len(segs) < 3 {
		t.Fatalf("expected rotation by size, got %d segments", len(segs))
	}
	// reopen and continue the same chain
	l = openTestLog(t, dir, nil)
	if seq, _ := l.Head(); seq != writers*each {
		t.Fatalf("head after reopen %d", seq)
	}
	if err := l.Write(context.Background(), sampleEvent(1)); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for rec, err := range l.Reader().Records(context.Background(), 470) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seq != 470+n {
			t.Fatalf("records out of order: %d", rec.Seq)
		}
		n++
	}
	if n != writers*each+1-469 {
		t.Fatalf("records from 470: %d", n)
	}
	l.Close()
	mustVerify(t, dir, opts)
}

func TestFileLogRotationByTime(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(testTime)
	l := openTestLog(t, dir, func(o *FileOptions) { o.Clock = clk; o.SegmentMaxAge = time.Hour })
	for i := 0; i < 3; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
	}
	l.Close()
	r, _ := OpenFileReader(dir)
	segs, _ := r.Segments()
	if len(segs) != 3 {
		t.Fatalf("segments: %d", len(segs))
	}
	mustVerify(t, dir, testKeys(t))
}

func TestFileLogLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, nil)
	defer l.Close()
	_, err := OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(t)})
	if err == nil {
		t.Fatal("second writer opened a locked directory")
	}
}

func TestFileLogTornTailRepair(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, nil)
	for i := 0; i < 5; i++ {
		if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	segs, _ := listSegments(dir)
	path := filepath.Join(dir, segs[len(segs)-1])
	before, _ := os.ReadFile(path)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte(`{"event":{"action":"read","act`))
	f.Close()

	_, err := VerifyDir(context.Background(), dir, testKeys(t))
	if !errors.Is(err, ErrTorn) {
		t.Fatalf("verify torn: %v", err)
	}
	_, err = OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(t)})
	var torn *TornTailError
	if !errors.As(err, &torn) || torn.Offset != int64(len(before)) || torn.Bytes != 30 {
		t.Fatalf("open torn: %v", err)
	}
	l = openTestLog(t, dir, func(o *FileOptions) { o.Repair = true })
	if l.Repaired() == nil || l.Repaired().Bytes != 30 {
		t.Fatalf("repaired: %+v", l.Repaired())
	}
	l.Close()
	var repair *Record
	for rec, err := range (&FileReader{dir: dir}).Records(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Event.Action == ActionTrailRepaired {
			repair = &rec
		}
	}
	if repair == nil || repair.Seq != 6 || repair.Event.Attrs["dropped_bytes"] != "30" || repair.Event.Attrs["offset"] != strconv.Itoa(len(before)) {
		t.Fatalf("repair record: %+v", repair)
	}
	mustVerify(t, dir, testKeys(t))
}

func TestFileLogFailsClosed(t *testing.T) {
	dir := t.TempDir()
	sinkErr := errors.New("sink down")
	var fail bool
	var mu sync.Mutex
	sink := CheckpointSinkFunc(func(ctx context.Context, c Checkpoint) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return sinkErr
		}
		return nil
	})
	l := openTestLog(t, dir, func(o *FileOptions) { o.CheckpointEvery = 1; o.CheckpointSink = sink })
	if err := l.Write(context.Background(), sampleEvent(0)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	if err := l.Write(context.Background(), sampleEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write with failing sink: %v", err)
	}
	if err := l.Write(context.Background(), sampleEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write after failure: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("close after failure: %v", err)
	}
}

func TestFileLogFullPastDeadline(t *testing.T) {
	dir := t.TempDir()
	block := make(chan struct{})
	sink := CheckpointSinkFunc(func(ctx context.Context, c Checkpoint) error {
		<-block
		return nil
	})
	l := openTestLog(t, dir, func(o *FileOptions) {
		o.CheckpointEvery = 1
		o.CheckpointSink = sink
		o.MaxPendingBytes = 1
		o.FullTimeout = 50 * time.Millisecond
	})
	defer func() { close(block); l.Close() }()
	first := make(chan error, 1)
	go func() { first <- l.Write(context.Background(), sampleEvent(0)) }()
	// wait until the flusher holds the first batch in the blocked sink
	for l.durableSeq.Load() == 0 {
		l.mu.Lock()
		taken := l.pendingCount == 0 && l.chain.seq == 1
		l.mu.Unlock()
		if taken {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// fill the pending buffer, then the next write must time out
	go l.Write(context.Background(), sampleEvent(1))
	for {
		l.mu.Lock()
		n := l.pendingCount
		l.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.Write(context.Background(), sampleEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write into full buffer: %v", err)
	}
}

func TestFileLogInvalidEvent(t *testing.T) {
	l := openTestLog(t, t.TempDir(), nil)
	defer l.Close()
	e := sampleEvent(0)
	e.Action = "Bad Action"
	if err := l.Write(context.Background(), e); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("invalid event: %v", err)
	}
}

func TestFileLogCheckpointsByIntervalAndOnDemand(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(testTime)
	var got []Checkpoint
	var mu sync.Mutex
	l := openTestLog(t, dir, func(o *FileOptions) {
		o.Clock = clk
		o.CheckpointInterval = time.Minute
		o.CheckpointSink = CheckpointSinkFunc(func(_ context.Context, c Checkpoint) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, c)
			return nil
		})
	})
	ctx := context.Background()
	if err := l.Write(ctx, sampleEvent(0)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if err := l.Write(ctx, sampleEvent(1)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	first := append([]Checkpoint(nil), got...)
	mu.Unlock()
	// the flusher's ticker may seal record 1 before record 2 arrives
	if len(first) < 1 || first[0].Reason != CheckpointInterval || first[0].Seq < 1 || first[0].Seq > 2 {
		t.Fatalf("interval checkpoint: %+v", first)
	}
	if err := l.Write(ctx, sampleEvent(2)); err != nil {
		t.Fatal(err)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Seq != 3 || cp.Verify(l.PublicKey()) != nil {
		t.Fatalf("on-demand checkpoint: %v %+v", err, cp)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("checkpoint after close: %v", err)
	}
	opts := testKeys(t)
	mu.Lock()
	opts.Expect = append([]Checkpoint(nil), got...)
	mu.Unlock()
	opts.RequireSealed = true
	mustVerify(t, dir, opts)
}

// TestVerifyMemoryConstant: verifying ten times as many records allocates
// the same (the verifier keeps per-stream state only).
func TestVerifyMemoryConstant(t *testing.T) {
	allocs := func(n int) float64 {
		dir := t.TempDir()
		l := openTestLog(t, dir, nil)
		for i := 0; i < n; i++ {
			if err := l.Write(context.Background(), sampleEvent(i)); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		opts := testKeys(t)
		return testing.AllocsPerRun(3, func() {
			if _, err := VerifyDir(context.Background(), dir, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(100), allocs(1000)
	if large > small+5 {
		t.Fatalf("verification allocations grow with the log: %v for 100 records, %v for 1000", small, large)
	}
}

func TestFileLogStreamsAndKeyRotation(t *testing.T) {
	ctx := context.Background()
	auditDir, ledgerDir := t.TempDir(), t.TempDir()
	a := openTestLog(t, auditDir, nil)
	ledger := openTestLog(t, ledgerDir, func(o *FileOptions) { o.Stream = "disposal-ledger" })
	for i := 0; i < 3; i++ {
		if err := a.Write(ctx, sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
		if err := ledger.Write(ctx, Event{Action: ActionShred, Outcome: OutcomeSuccess, Target: Target{Subject: "s-" + strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	ledger.Close()
	res := mustVerify(t, ledgerDir, testKeys(t))
	if res.Streams[0].Stream != "disposal-ledger" || res.Streams[0].Records != 3 {
		t.Fatalf("ledger: %+v", res)
	}
	// a directory keeps its stream
	if _, err := OpenFileLog(ctx, ledgerDir, FileOptions{Signer: testKey(t)}); err == nil {
		t.Fatal("opened the ledger as another stream")
	}
	// after a key rotation the old key must be named to reopen
	newKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	if _, err := OpenFileLog(ctx, auditDir, FileOptions{Signer: newKey}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("open with an unknown key: %v", err)
	}
	old := testKey(t).Public().(ed25519.PublicKey)
	l, err := OpenFileLog(ctx, auditDir, FileOptions{Signer: newKey, PreviousKeys: mustKeySet(t, old)})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, sampleEvent(9)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	mustVerify(t, auditDir, VerifyOptions{Keys: mustKeySet(t, old, newKey.Public().(ed25519.PublicKey)), RequireSealed: true})
	if _, err := VerifyDir(ctx, auditDir, testKeys(t)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verify without the new key: %v", err)
	}
}

func TestFileLogStorageFailureFailsClosed(t *testing.T) {
	l := openTestLog(t, t.TempDir(), nil)
	ctx := context.Background()
	if err := l.Write(ctx, sampleEvent(0)); err != nil {
		t.Fatal(err)
	}
	// the segment's descriptor goes bad under the writer, as with a failed disk
	l.f.Close()
	if err := l.Write(ctx, sampleEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write on a failed disk: %v", err)
	}
	if err := l.Write(ctx, sampleEvent(2)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write after the failure: %v", err)
	}
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("checkpoint after the failure: %v", err)
	}
	if l.DurableSeq() != 1 {
		t.Fatalf("durable seq %d", l.DurableSeq())
	}
	l.Close()
}

func TestFileLogRefusesAnchorlessSegment(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, nil)
	l.Write(context.Background(), sampleEvent(0))
	l.Close()
	if err := os.WriteFile(filepath.Join(dir, segmentName(2)), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFileLog(context.Background(), dir, FileOptions{Signer: testKey(t), Repair: true})
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Problem != ProblemAnchor {
		t.Fatalf("open with an empty newest segment: %v", err)
	}
}

func TestFileLogWriteTimeout(t *testing.T) {
	block := make(chan struct{})
	l := openTestLog(t, t.TempDir(), func(o *FileOptions) {
		o.CheckpointEvery = 1
		o.CheckpointSink = CheckpointSinkFunc(func(ctx context.Context, c Checkpoint) error {
			<-block
			return nil
		})
		o.WriteTimeout = 50 * time.Millisecond
	})
	start := time.Now()
	err := l.Write(context.Background(), sampleEvent(0))
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("write stuck behind a slow sink: %v after %v", err, time.Since(start))
	}
	close(block)
	l.Close()
}

func TestFileLogAppendReturnsReceipt(t *testing.T) {
	l := openTestLog(t, t.TempDir(), nil)
	defer l.Close()
	ctx := context.Background()
	r1, err := l.Append(ctx, sampleEvent(0))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Append(ctx, sampleEvent(1))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Seq != 1 || r2.Seq != 2 || r2.Prev != r1.Hash || r1.Stream != DefaultStream {
		t.Fatalf("receipts: %+v %+v", r1, r2)
	}
	if h, err := r2.ComputeHash(); err != nil || h != r2.Hash {
		t.Fatalf("receipt hash: %v", err)
	}
	for rec, err := range l.Reader().Records(ctx, 2) {
		if err != nil || rec.Hash != r2.Hash {
			t.Fatalf("stored record differs from the receipt: %v", err)
		}
	}
	bad := sampleEvent(2)
	bad.Outcome = ""
	if _, err := l.Append(ctx, bad); !errors.Is(err, ErrInvalidEvent) {
		t.Fatal(err)
	}
}

func TestFileLogRemovesStaleTemporarySegment(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, nil)
	l.Close()
	stale := filepath.Join(dir, "."+segmentName(7)+".tmp-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, dir, nil)
	l.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temporary segment kept: %v", err)
	}
}
