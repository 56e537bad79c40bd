package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

const (
	segmentPrefix = "seg-"
	segmentSuffix = ".jsonl"
	lockName      = "LOCK"
)

// segmentName returns the file name of the segment whose first record is
// firstSeq: "seg-" and 20 decimal digits, so names sort in log order.
func segmentName(firstSeq uint64) string {
	return fmt.Sprintf("%s%020d%s", segmentPrefix, firstSeq, segmentSuffix)
}

func parseSegmentName(name string) (uint64, bool) {
	if len(name) != len(segmentPrefix)+20+len(segmentSuffix) || !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
		return 0, false
	}
	digits := name[len(segmentPrefix) : len(segmentPrefix)+20]
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 || v > MaxSeq+1 {
		return 0, false
	}
	return v, true
}

// listSegments returns the segment file names in dir, oldest first.
func listSegments(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: read log directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if _, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// createSegment writes a new segment whose first line is the signed anchor
// (the checkpoint of everything before it), atomically: a crash leaves
// either no segment or a complete one.
func createSegment(dir string, anchor *Checkpoint, signer crypto.Signer) (*os.File, string, int64, error) {
	line, err := signedLine(anchor, signer)
	if err != nil {
		return nil, "", 0, err
	}
	name := segmentName(anchor.Seq + 1)
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return nil, "", 0, fmt.Errorf("audit: segment %s already exists", name)
	}
	if err := durable.WriteFileAtomic(path, line, 0o600); err != nil {
		return nil, "", 0, fmt.Errorf("audit: create segment: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, "", 0, fmt.Errorf("audit: open segment: %w", err)
	}
	return f, name, int64(len(line)), nil
}

// signedLine signs c and returns its line with the newline.
func signedLine(c *Checkpoint, signer crypto.Signer) ([]byte, error) {
	if err := c.Sign(signer); err != nil {
		return nil, err
	}
	line, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

// OpenFileLog opens (creating if needed) the log in dir and starts its
// writer. It takes an exclusive lock on the directory, so one process
// writes one log. It checks the newest segment: its anchor must be signed
// by opts.Signer's key and its records must chain. An incomplete last line
// (a write cut short by a crash, never acknowledged) fails Open with a
// *TornTailError unless opts.Repair is set; Repair truncates exactly those
// bytes and records a trail_repaired event (Repaired says what it dropped).
func OpenFileLog(ctx context.Context, dir string, opts FileOptions) (*FileLog, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create log directory: %w", err)
	}
	pub := opts.Signer.Public().(ed25519.PublicKey)
	trusted, err := signing.NewKeySet(pub)
	if err == nil {
		trusted, err = trusted.With(opts.PreviousKeys.Keys()...)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint keys: %w", err)
	}
	lock, err := durable.TryLock(filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("audit: lock log directory: %w", err)
	}
	l := &FileLog{
		dir:     dir,
		opts:    opts,
		pub:     pub,
		trusted: trusted,
		lock:    lock,
		cur:     newBatch(),
		space:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	l.reader = &FileReader{dir: dir, durable: &l.durableSeq}
	l.writeTimeoutErr = fmt.Errorf("%w: not durable within %v", ErrUnavailable, opts.WriteTimeout)
	if err := l.recover(ctx); err != nil {
		if l.f != nil {
			l.f.Close()
		}
		lock.Unlock()
		return nil, err
	}
	l.chain, _ = NewChain(ChainConfig{Stream: opts.Stream, Seq: l.writtenSeq, Head: l.writtenHead, Clock: opts.Clock})
	l.durableSeq.Store(l.writtenSeq)
	if err := l.openTree(ctx); err != nil {
		l.f.Close()
		lock.Unlock()
		return nil, err
	}
	go l.flusher()
	if l.repaired != nil {
		if err := l.recordRepair(ctx); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// recover finds the head of the log and opens the newest segment for
// appending.
func (l *FileLog) recover(ctx context.Context) error {
	// a crash while creating a segment leaves only its temporary file
	// (durable.WriteFileAtomic), never a partial segment: remove it
	tmps, _ := filepath.Glob(filepath.Join(l.dir, "."+segmentPrefix+"*"+segmentSuffix+".tmp-*"))
	for _, t := range tmps {
		if err := os.Remove(t); err != nil {
			return fmt.Errorf("audit: remove stale temporary segment: %w", err)
		}
	}
	names, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	now := l.opts.Clock.Now()
	if len(names) == 0 {
		anchor := Checkpoint{Stream: l.opts.Stream, Time: now, Reason: CheckpointAnchor}
		l.f, l.segName, l.segSize, err = createSegment(l.dir, &anchor, l.opts.Signer)
		l.segCreated, l.lastCP = now, now
		return err
	}
	name := names[len(names)-1]
	path := filepath.Join(l.dir, name)
	st, err := l.scanLastSegment(ctx, name)
	if err != nil {
		return err
	}
	if st.tornBytes > 0 {
		torn := &TornTailError{Segment: name, Offset: st.validEnd, Bytes: st.tornBytes}
		if !l.opts.Repair {
			return torn
		}
		if err := os.Truncate(path, st.validEnd); err != nil {
			return fmt.Errorf("audit: repair: truncate segment: %w", err)
		}
		l.repaired = torn
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("audit: open segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: sync segment: %w", err)
	}
	l.f, l.segName, l.segSize = f, name, st.validEnd
	l.segCreated = st.anchor.Time
	l.writtenSeq, l.writtenHead = st.seq, st.head
	l.lastCPSeq, l.lastCP = st.cpSeq, st.cpTime
	l.sinceCP = int(st.seq - st.cpSeq)
	return nil
}

type segmentState struct {
	anchor    Checkpoint
	seq       uint64
	head      Hash
	cpSeq     uint64
	cpTime    time.Time
	validEnd  int64
	tornBytes int64
}

// scanLastSegment reads and verifies the newest segment.
func (l *FileLog) scanLastSegment(ctx context.Context, name string) (segmentState, error) {
	var st segmentState
	f, err := os.Open(filepath.Join(l.dir, name))
	if err != nil {
		return st, fmt.Errorf("audit: open segment: %w", err)
	}
	defer f.Close()
	v := NewVerifier(VerifyOptions{Keys: l.trusted, AllowUnanchoredStart: true})
	sc := newLineScanner(f)
	first, _ := parseSegmentName(name)
	for {
		line, off, lineNo, err := sc.next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, ErrTorn) {
			st.tornBytes = int64(len(line))
			break
		}
		if err != nil {
			return st, &LineError{Segment: name, Line: lineNo, Offset: off, Err: err}
		}
		if lineNo%4096 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		v.At(name, lineNo)
		if lineNo == 1 {
			c, perr := ParseCheckpoint(line)
			if perr != nil || c.Reason != CheckpointAnchor || c.Seq+1 != first || c.Stream != l.opts.Stream {
				return st, &VerifyError{Stream: l.opts.Stream, Seq: first, Problem: ProblemAnchor, Segment: name, Line: 1, Err: ErrTruncated}
			}
			st.anchor = c
			st.cpSeq, st.cpTime = c.Seq, c.Time
		} else if bytes.HasPrefix(line, checkpointPrefix) {
			if c, perr := ParseCheckpoint(line); perr == nil {
				st.cpSeq, st.cpTime = c.Seq, c.Time
			}
		}
		if err := v.Line(line); err != nil {
			return st, err
		}
		st.validEnd = off + int64(len(line)) + 1
	}
	if st.anchor.Time.IsZero() {
		// segments are created whole with their anchor: an empty or
		// anchorless segment is damage, not a torn write
		return st, &VerifyError{Stream: l.opts.Stream, Seq: first, Problem: ProblemAnchor, Segment: name, Line: 1, Err: ErrTruncated}
	}
	res, err := v.Finish()
	if err != nil {
		return st, err
	}
	for _, s := range res.Streams {
		if s.Stream != l.opts.Stream {
			return st, &VerifyError{Stream: s.Stream, Seq: s.LastSeq, Problem: ProblemStream, Segment: name, Err: ErrChainBroken}
		}
		st.seq, st.head = s.LastSeq, s.Head
	}
	return st, nil
}

// recordRepair records that Open dropped a torn tail, then seals it with
// a checkpoint.
func (l *FileLog) recordRepair(ctx context.Context) error {
	r := l.repaired
	e := Event{
		Action:  ActionTrailRepaired,
		Outcome: OutcomeSuccess,
		Reason:  "torn_tail",
		Actor:   Actor{UserID: "hipaakit"},
		Origin:  Origin{Channel: ChannelSystem},
		Attrs: map[string]string{
			"segment":       r.Segment,
			"offset":        strconv.FormatInt(r.Offset, 10),
			"dropped_bytes": strconv.FormatInt(r.Bytes, 10),
		},
	}
	if err := l.Write(ctx, e); err != nil {
		return err
	}
	_, err := l.Checkpoint(ctx)
	return err
}
