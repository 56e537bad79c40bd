package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
	"golang.org/x/sys/unix"
)

// FileLog is the embedded default Writer: an append-only, hash-chained log
// of JSON Lines segment files in one directory, with durable group commit.
//
// Concurrent Writes are encoded in parallel, linked into the chain in the
// order they take the lock, and made durable together: one write and one
// fdatasync cover every event pending at that moment. Write returns only
// after its event's fdatasync (and the checkpoint sink, when the batch
// carries a checkpoint) succeeded. After any storage failure the log fails
// closed: every later Write returns ErrUnavailable until it is reopened.
type FileLog struct {
	dir  string
	opts FileOptions
	pub  ed25519.PublicKey
	// trusted verifies the log's checkpoints: pub, then
	// FileOptions.PreviousKeys.
	trusted signing.KeySet
	lock    *durable.Lock
	reader  *FileReader

	mu           sync.Mutex
	chain        *Chain
	pending      []byte // encoded lines waiting for the flusher
	pendingCount int
	cur          *batch        // the batch the pending lines belong to
	space        chan struct{} // closed when pending space was freed
	failed       error
	closed       bool
	forceCP      []chan error  // Checkpoint calls waiting for the flusher
	gathered     chan struct{} // closed when gatherWant writes are pending
	gatherWant   int

	wake       chan struct{}
	stop       chan struct{}
	done       chan struct{}
	durableSeq atomic.Uint64
	repaired   *TornTailError
	purgeMu    sync.Mutex // one Purge at a time
	// writeTimeoutErr fails a batch not durable within WriteTimeout
	writeTimeoutErr error

	// owned by the flusher goroutine
	f            *os.File
	segName      string
	segSize      int64
	segCreated   time.Time
	writtenSeq   uint64
	writtenHead  Hash
	sinceCP      int
	lastCP       time.Time
	lastCPSeq    uint64
	spare        []byte
	lastBatch    int
	gatherTimer  *time.Timer
	lastSync     time.Duration // how long the last write and fdatasync took
	closeErr     error
	lastCPRecord Checkpoint
	tree         *fileTree // nil when the stream has no tree (ErrNoTree)
}

// batch is the set of writes one group commit acknowledges.
type batch struct {
	done  chan struct{}
	err   error
	once  sync.Once
	timer *time.Timer // set under FileLog.mu by the batch's first writer
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// finish acknowledges (err nil) or fails the batch's writes, once; a batch
// that timed out stays failed even if its sync completes later.
func (b *batch) finish(err error) {
	b.once.Do(func() {
		b.err = err
		close(b.done)
	})
}

// settle finishes b and stops its timer; only the flusher calls it, after
// taking b out of FileLog.cur.
func (b *batch) settle(err error) {
	b.finish(err)
	if b.timer != nil {
		b.timer.Stop()
	}
}

var _ Writer = (*FileLog)(nil)

// Dir returns the log's directory.
func (l *FileLog) Dir() string { return l.dir }

// Stream returns the log's stream name.
func (l *FileLog) Stream() string { return l.opts.Stream }

// PublicKey returns the checkpoint verification key.
func (l *FileLog) PublicKey() ed25519.PublicKey { return l.pub }

// Repaired returns what Open dropped as a torn tail, or nil.
func (l *FileLog) Repaired() *TornTailError { return l.repaired }

// Head returns the sequence number and hash of the last record linked into
// the chain (durable or about to be).
func (l *FileLog) Head() (uint64, Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chain.Head()
}

// DurableSeq returns the sequence number up to which every record is
// durable.
func (l *FileLog) DurableSeq() uint64 { return l.durableSeq.Load() }

// Reader returns a reader of this log that yields only durable records.
func (l *FileLog) Reader() *FileReader { return l.reader }

// Write validates e, links it into the chain and returns after it is
// durable. It fails with ErrInvalidEvent for a bad event, ErrClosed after
// Close, ErrUnavailable when the log failed or stayed full past
// FullTimeout, and with the context's error when ctx ends first (the event
// may then still be stored, but was not acknowledged).
func (l *FileLog) Write(ctx context.Context, e Event) error {
	return l.write(ctx, &e, nil)
}

// Append is Write that also returns the stored record: its stream,
// sequence number and hash are a receipt that verification can check
// later (for example in a disposal certificate).
func (l *FileLog) Append(ctx context.Context, e Event) (Record, error) {
	var r Record
	if err := l.write(ctx, &e, &r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// write stores e; when rec is non-nil it receives the record.
func (l *FileLog) write(ctx context.Context, e *Event, rec *Record) error {
	p, err := prepare(e, l.opts.Clock.Now)
	if err != nil {
		return err
	}
	defer p.release()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: write not acknowledged: %w", err)
	}
	var full *time.Timer
	l.mu.Lock()
	for {
		if l.failed != nil {
			l.mu.Unlock()
			return l.failed
		}
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if len(l.pending) < l.opts.MaxPendingBytes {
			break
		}
		space := l.space
		l.mu.Unlock()
		if full == nil {
			full = time.NewTimer(l.opts.FullTimeout)
			defer full.Stop()
		}
		select {
		case <-space:
		case <-full.C:
			return fmt.Errorf("%w: pending buffer full for %v", ErrUnavailable, l.opts.FullTimeout)
		case <-ctx.Done():
			return fmt.Errorf("audit: write not acknowledged: %w", ctx.Err())
		}
		l.mu.Lock()
	}
	var lerr error
	_, prev := l.chain.Head()
	var seq uint64
	var sum Hash
	l.pending, seq, sum, lerr = l.chain.link(p, l.pending)
	if lerr != nil {
		l.mu.Unlock()
		return lerr
	}
	l.pending = append(l.pending, '\n')
	l.pendingCount++
	if l.gathered != nil && l.pendingCount >= l.gatherWant {
		close(l.gathered)
		l.gathered = nil
	}
	b := l.cur
	if b.timer == nil {
		// one timer per group commit, not per write: the whole batch
		// fails if it is not durable within WriteTimeout
		b.timer = time.AfterFunc(l.opts.WriteTimeout, func() { b.finish(l.writeTimeoutErr) })
	}
	l.mu.Unlock()

	select {
	case l.wake <- struct{}{}:
	default:
	}
	if err := l.await(ctx, b); err != nil {
		return err
	}
	if rec != nil {
		*rec = Record{Stream: l.opts.Stream, Seq: seq, Prev: prev, Hash: sum, Event: p.ev}
	}
	return nil
}

func (l *FileLog) await(ctx context.Context, b *batch) error {
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return fmt.Errorf("audit: write not acknowledged: %w", ctx.Err())
	}
}

// Checkpoint writes a signed checkpoint of everything written so far (and
// sends it to the sink) and returns it.
func (l *FileLog) Checkpoint(ctx context.Context) (Checkpoint, error) {
	ch := make(chan error, 1)
	l.mu.Lock()
	if l.failed != nil || l.closed {
		err := l.failed
		l.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return Checkpoint{}, err
	}
	l.forceCP = append(l.forceCP, ch)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-ch:
		if err != nil {
			return Checkpoint{}, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.lastCPRecord, nil
	case <-ctx.Done():
		return Checkpoint{}, ctx.Err()
	}
}

// Close flushes pending events, writes a closing checkpoint, and releases
// the directory. Writes after Close fail with ErrClosed.
func (l *FileLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	err := l.closeErr
	if l.f != nil {
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("audit: close segment: %w", cerr)
		}
	}
	if l.tree != nil {
		l.tree.f.Close()
	}
	if uerr := l.lock.Unlock(); err == nil && uerr != nil {
		err = uerr
	}
	return err
}

// flusher is the single goroutine that writes, fsyncs and rotates.
func (l *FileLog) flusher() {
	defer close(l.done)
	tick := l.opts.CheckpointInterval
	if tick > time.Second {
		tick = time.Second
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		closing := false
		select {
		case <-l.wake:
		case <-ticker.C:
		case <-l.stop:
			closing = true
		}
		for l.flushOnce(closing) {
		}
		if closing {
			return
		}
	}
}

// gatherWait bounds how long the flusher waits for the writers of the
// previous batch to come back before it starts the next write; it waits at
// most a quarter of the last fdatasync's duration, so that one sync covers
// them all instead of two syncs covering a few and the rest.
const gatherWait = 200 * time.Microsecond

func (l *FileLog) gather() {
	if l.lastBatch < 2 || l.lastSync <= 0 {
		return
	}
	l.mu.Lock()
	if l.pendingCount >= l.lastBatch {
		l.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	l.gathered, l.gatherWant = ch, l.lastBatch
	l.mu.Unlock()
	wait := min(gatherWait, l.lastSync/4)
	if l.gatherTimer == nil {
		l.gatherTimer = time.NewTimer(wait)
	} else {
		l.gatherTimer.Reset(wait)
	}
	select {
	case <-ch:
		l.gatherTimer.Stop()
	case <-l.gatherTimer.C:
	}
	l.mu.Lock()
	l.gathered = nil
	l.mu.Unlock()
}

// flushOnce writes what is pending; it reports whether more became pending
// meanwhile.
func (l *FileLog) flushOnce(closing bool) bool {
	if !closing {
		l.gather()
	}
	l.mu.Lock()
	l.lastBatch = l.pendingCount
	if l.failed != nil {
		forced, failed := l.forceCP, l.failed
		l.forceCP = nil
		l.mu.Unlock()
		l.finishForced(forced, failed)
		return false
	}
	buf, b, count := l.pending, l.cur, l.pendingCount
	seq, head := l.chain.Head()
	forced := l.forceCP
	l.forceCP = nil
	l.pending, l.pendingCount, l.cur = l.spare[:0], 0, newBatch()
	close(l.space)
	l.space = make(chan struct{})
	l.mu.Unlock()

	now := l.opts.Clock.Now()
	l.sinceCP += count
	unsealed := seq > l.lastCPSeq
	wantCP := len(forced) > 0 || (unsealed && (closing || l.sinceCP >= l.opts.CheckpointEvery || now.Sub(l.lastCP) >= l.opts.CheckpointInterval))
	if count == 0 && !wantCP {
		l.spare = buf
		b.settle(nil)
		l.finishForced(forced, nil)
		return false
	}

	var err error
	if count > 0 {
		if l.tree != nil {
			l.tree.add(buf) // buf holds this batch's record lines only
		}
		err = l.maybeRotate(now)
	}
	var cp Checkpoint
	if err == nil && wantCP {
		cp = Checkpoint{Stream: l.opts.Stream, Seq: seq, Head: head, Time: now, Reason: CheckpointCount}
		switch {
		case closing:
			cp.Reason = CheckpointClose
		case l.sinceCP < l.opts.CheckpointEvery:
			cp.Reason = CheckpointInterval
		}
		buf, err = l.appendCheckpoint(buf, &cp)
	}
	if err == nil {
		start := time.Now()
		err = l.writeDurable(buf)
		l.lastSync = time.Since(start)
	}
	if err == nil {
		err = l.maintainTree(seq, head, now, wantCP)
	}
	if err == nil && wantCP && l.opts.CheckpointSink != nil {
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.WriteTimeout)
		if serr := l.opts.CheckpointSink.WriteCheckpoint(ctx, cp); serr != nil {
			err = fmt.Errorf("audit: checkpoint sink: %w", serr)
		}
		cancel()
	}
	if err != nil {
		l.fail(err, b)
		l.finishForced(forced, l.failed)
		return false
	}
	l.writtenSeq, l.writtenHead = seq, head
	if wantCP {
		l.sinceCP, l.lastCP, l.lastCPSeq = 0, now, seq
		l.mu.Lock()
		l.lastCPRecord = cp
		l.mu.Unlock()
	}
	l.durableSeq.Store(seq)
	l.spare = buf[:0]
	b.settle(nil)
	l.finishForced(forced, nil)

	l.mu.Lock()
	more := l.pendingCount > 0 || len(l.forceCP) > 0
	l.mu.Unlock()
	return more
}

func (l *FileLog) finishForced(forced []chan error, err error) {
	for _, ch := range forced {
		ch <- err
	}
}

// fail makes the log fail closed: b and every pending batch fail.
func (l *FileLog) fail(err error, b *batch) {
	l.mu.Lock()
	l.failed = fmt.Errorf("%w: %v", ErrUnavailable, err)
	b.settle(l.failed)
	l.cur.settle(l.failed)
	l.cur = newBatch()
	l.pending, l.pendingCount = nil, 0
	close(l.space)
	l.space = make(chan struct{})
	l.closeErr = l.failed
	l.mu.Unlock()
}

func (l *FileLog) appendCheckpoint(buf []byte, cp *Checkpoint) ([]byte, error) {
	line, err := signedLine(cp, l.opts.Signer)
	return append(buf, line...), err
}

// writeDurable appends buf to the current segment and fdatasyncs it.
func (l *FileLog) writeDurable(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	n, err := l.f.Write(buf)
	l.segSize += int64(n)
	if err != nil {
		return fmt.Errorf("audit: write segment: %w", err)
	}
	if err := fdatasync(l.f); err != nil {
		return fmt.Errorf("audit: sync segment: %w", err)
	}
	return nil
}

func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

// maybeRotate starts a new segment when the current one is full or old and
// holds at least one record.
func (l *FileLog) maybeRotate(now time.Time) error {
	if l.writtenSeq < l.segFirstSeq() {
		return nil // no record in this segment yet
	}
	if l.segSize < l.opts.SegmentMaxBytes && now.Sub(l.segCreated) < l.opts.SegmentMaxAge {
		return nil
	}
	anchor := Checkpoint{Stream: l.opts.Stream, Seq: l.writtenSeq, Head: l.writtenHead, Time: now, Reason: CheckpointAnchor}
	f, name, size, err := createSegment(l.dir, &anchor, l.opts.Signer)
	if err != nil {
		return err
	}
	if err := l.f.Close(); err != nil {
		f.Close()
		return fmt.Errorf("audit: close segment: %w", err)
	}
	l.f, l.segName, l.segSize, l.segCreated = f, name, size, now
	return nil
}

func (l *FileLog) segFirstSeq() uint64 {
	s, _ := parseSegmentName(l.segName)
	return s
}
