package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hipaakit/hipaakit/durable"
)

// lineScanner splits a segment into lines, tracking offsets and numbers.
type lineScanner struct {
	r      *bufio.Reader
	off    int64
	lineNo int64
	long   []byte
}

func newLineScanner(r io.Reader) *lineScanner {
	return &lineScanner{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line without its newline, its offset and 1-based
// number. The slice is valid until the next call. At the end it returns
// io.EOF, or the incomplete last line with ErrTorn; a line longer than
// MaxLineSize gives ErrOversized.
func (s *lineScanner) next() ([]byte, int64, int64, error) {
	off := s.off
	s.lineNo++
	s.long = s.long[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.off += int64(len(chunk))
		switch {
		case err == nil:
			if len(s.long) > 0 {
				s.long = append(s.long, chunk...)
				chunk = s.long
			}
			if len(chunk) > MaxLineSize {
				return nil, off, s.lineNo, ErrOversized
			}
			return chunk[:len(chunk)-1], off, s.lineNo, nil
		case errors.Is(err, bufio.ErrBufferFull):
			s.long = append(s.long, chunk...)
			if len(s.long) > MaxLineSize {
				return nil, off, s.lineNo, ErrOversized
			}
		case err == io.EOF:
			if len(s.long) > 0 || len(chunk) > 0 {
				s.long = append(s.long, chunk...)
				return s.long, off, s.lineNo, ErrTorn
			}
			return nil, off, s.lineNo, io.EOF
		default:
			return nil, off, s.lineNo, fmt.Errorf("audit: read segment: %w", err)
		}
	}
}

// FileReader reads a log directory written by FileLog, also while a
// FileLog appends to it. Readers never modify the directory.
type FileReader struct {
	dir     string
	durable *atomic.Uint64 // set when the reader belongs to an open FileLog
}

// OpenFileReader returns a reader of the log in dir.
func OpenFileReader(dir string) (*FileReader, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: open log directory: %w", err)
	}
	if !st.IsDir() {
		return nil, errors.New("audit: log path is not a directory")
	}
	return &FileReader{dir: dir}, nil
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Name     string
	FirstSeq uint64 // the first record's sequence number; its anchor covers FirstSeq-1
	Size     int64
}

// Segments lists the segments, oldest first.
func (r *FileReader) Segments() ([]SegmentInfo, error) {
	names, err := listSegments(r.dir)
	if err != nil {
		return nil, err
	}
	out := make([]SegmentInfo, 0, len(names))
	for _, n := range names {
		st, err := os.Stat(filepath.Join(r.dir, n))
		if err != nil {
			return nil, fmt.Errorf("audit: stat segment: %w", err)
		}
		first, _ := parseSegmentName(n)
		out = append(out, SegmentInfo{Name: n, FirstSeq: first, Size: st.Size()})
	}
	return out, nil
}

// rawLine is one line of a segment as the scanner saw it.
type rawLine struct {
	seg    string
	lineNo int64
	off    int64
	line   []byte
}

// scan calls fn for every complete line of every segment that may hold
// records from fromSeq on. A torn last line of the newest segment ends
// the scan and is reported through torn (nil to ignore it); anywhere else
// it is an error.
func (r *FileReader) scan(ctx context.Context, fromSeq uint64, torn *TornTailError, fn func(rawLine) (bool, error)) error {
	segs, err := r.Segments()
	if err != nil {
		return err
	}
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].FirstSeq <= fromSeq {
			continue
		}
		last := i == len(segs)-1
		if err := r.scanSegment(ctx, s.Name, last, torn, fn); err != nil {
			if errors.Is(err, errStopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}

var errStopScan = errors.New("audit: stop scan")

func (r *FileReader) scanSegment(ctx context.Context, name string, last bool, torn *TornTailError, fn func(rawLine) (bool, error)) error {
	f, err := os.Open(filepath.Join(r.dir, name))
	if err != nil {
		return fmt.Errorf("audit: open segment: %w", err)
	}
	defer f.Close()
	sc := newLineScanner(f)
	for {
		line, off, lineNo, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if errors.Is(err, ErrTorn) && last {
			if torn != nil {
				*torn = TornTailError{Segment: name, Offset: off, Bytes: int64(len(line))}
			}
			return nil
		}
		if err != nil {
			return &LineError{Segment: name, Line: lineNo, Offset: off, Err: err}
		}
		if lineNo%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		more, err := fn(rawLine{seg: name, lineNo: lineNo, off: off, line: line})
		if err != nil {
			return err
		}
		if !more {
			return errStopScan
		}
	}
}

// Entries yields every record and checkpoint in log order. When the
// reader belongs to an open FileLog, it stops at the last durable record.
func (r *FileReader) Entries(ctx context.Context) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		limit := r.limit()
		err := r.scan(ctx, 0, nil, func(l rawLine) (bool, error) {
			e, err := ParseLine(l.line)
			if err != nil {
				return false, &LineError{Segment: l.seg, Line: l.lineNo, Offset: l.off, Err: err}
			}
			if e.Record != nil && e.Record.Seq > limit {
				return false, nil
			}
			return yield(e, nil), nil
		})
		if err != nil {
			yield(Entry{}, err)
		}
	}
}

// Records yields the records with Seq >= fromSeq in order (checkpoints
// skipped), reading only the segments that can hold them. It has the
// shape of a query RecordSource once fromSeq is bound.
func (r *FileReader) Records(ctx context.Context, fromSeq uint64) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		limit := r.limit()
		err := r.scan(ctx, fromSeq, nil, func(l rawLine) (bool, error) {
			if bytes.HasPrefix(l.line, checkpointPrefix) {
				return true, nil
			}
			rec, err := ParseRecord(l.line)
			if err != nil {
				return false, &LineError{Segment: l.seg, Line: l.lineNo, Offset: l.off, Err: err}
			}
			if rec.Seq > limit {
				return false, nil
			}
			if rec.Seq < fromSeq {
				return true, nil
			}
			return yield(rec, nil), nil
		})
		if err != nil {
			yield(Record{}, err)
		}
	}
}

func (r *FileReader) limit() uint64 {
	if r.durable == nil {
		return MaxSeq
	}
	return r.durable.Load()
}

// Verify checks the whole log: every segment's anchor, every record's
// hash and link, every checkpoint's signature, and that each segment
// continues where the previous one ended. A torn last line is an error
// unless a FileLog holds the directory (then it is a write in progress).
// The first failure is a *VerifyError naming the stream, sequence
// number, segment and line. Memory does not grow with the log; parsing and
// hashing run on every core (see verify_file.go).
func (r *FileReader) Verify(ctx context.Context, opts VerifyOptions) (Result, error) {
	return r.verifyParallel(ctx, opts)
}

// checkAnchorLine checks that a segment starts with an anchor checkpoint
// whose sequence number matches the segment's name.
func checkAnchorLine(l rawLine) error {
	first, _ := parseSegmentName(l.seg)
	c, err := ParseCheckpoint(l.line)
	if err != nil || c.Reason != CheckpointAnchor || c.Seq+1 != first {
		return &VerifyError{Stream: c.Stream, Seq: first, Problem: ProblemAnchor, Segment: l.seg, Line: 1, Err: ErrTruncated}
	}
	return nil
}

func (v *Verifier) lastSeq() uint64 {
	if v.last == nil {
		return 0
	}
	return v.last.LastSeq
}

// live reports whether a FileLog holds the directory's lock.
// A reader never creates or changes a file in the directory: without a
// lock file no FileLog has ever held it, so none holds it now.
func (r *FileReader) live() bool {
	path := filepath.Join(r.dir, lockName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return false
	}
	lk, err := durable.TryLock(path)
	if errors.Is(err, durable.ErrLocked) {
		return true
	}
	if err == nil {
		lk.Unlock()
	}
	return false
}

// VerifyDir verifies the file log in dir; see FileReader.Verify.
func VerifyDir(ctx context.Context, dir string, opts VerifyOptions) (Result, error) {
	r, err := OpenFileReader(dir)
	if err != nil {
		return Result{}, err
	}
	return r.Verify(ctx, opts)
}
