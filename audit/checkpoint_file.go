package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// CheckpointFile is a CheckpointSink that appends each checkpoint as a line
// to a file and fsyncs it: the embedded second place for checkpoints. Put
// it where whoever could truncate the log cannot (another disk, mount or
// machine), and pass LatestCheckpoints of it to VerifyOptions.Expect.
//
// The file only ever holds complete lines: OpenCheckpointFile cuts off an
// incomplete last line (left by a crash while appending), and a failed
// write or sync is cut back, so the next checkpoint never lands on the end
// of a fragment.
type CheckpointFile struct {
	mu   sync.Mutex
	f    *os.File
	size int64 // length of the complete lines; the file is cut back to it
	torn bool  // bytes past size may remain: cut them before the next write

	// test hooks; nil means the real write and fdatasync
	write func(f *os.File, b []byte) (int, error)
	sync  func(f *os.File) error
}

var _ CheckpointSink = (*CheckpointFile)(nil)

// OpenCheckpointFile opens (creating with mode 0600) the checkpoint file at
// path for appending. If the file does not end in a newline, the
// incomplete last line is truncated away (and the truncation synced)
// before anything is appended.
func OpenCheckpointFile(path string) (*CheckpointFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open checkpoint file: %w", err)
	}
	size, total, err := completeLinesEnd(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: open checkpoint file: %w", err)
	}
	s := &CheckpointFile{f: f, size: size}
	if total != size {
		if err := s.cutBack(); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: repair checkpoint file: %w", err)
		}
	}
	return s, nil
}

// completeLinesEnd returns the offset just past the last '\n' of f (0 if
// it has none) and the size of f.
func completeLinesEnd(f *os.File) (end, size int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = fi.Size()
	end = size
	buf := make([]byte, 4096)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, size, nil
		}
		end -= n
	}
	return 0, size, nil
}

// cutBack truncates the file to s.size and syncs the truncation. Until it
// succeeds, s.torn stays set and every write first retries it.
func (s *CheckpointFile) cutBack() error {
	s.torn = true
	if err := s.f.Truncate(s.size); err != nil {
		return err
	}
	if err := s.doSync(); err != nil {
		return err
	}
	s.torn = false
	return nil
}

func (s *CheckpointFile) doSync() error {
	if s.sync != nil {
		return s.sync(s.f)
	}
	return fdatasync(s.f)
}

// WriteCheckpoint appends c and fsyncs the file. If the write or the sync
// fails, the file is cut back to its previous length.
func (s *CheckpointFile) WriteCheckpoint(ctx context.Context, c Checkpoint) error {
	line, err := c.Marshal()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrClosed
	}
	if s.torn {
		if err := s.cutBack(); err != nil {
			return fmt.Errorf("audit: repair checkpoint file: %w", err)
		}
	}
	line = append(line, '\n')
	var n int
	if s.write != nil {
		n, err = s.write(s.f, line)
	} else {
		n, err = s.f.Write(line)
	}
	if err == nil && n != len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return errors.Join(fmt.Errorf("audit: write checkpoint file: %w", err), s.cutBackErr())
	}
	if err := s.doSync(); err != nil {
		return errors.Join(fmt.Errorf("audit: sync checkpoint file: %w", err), s.cutBackErr())
	}
	s.size += int64(len(line))
	return nil
}

func (s *CheckpointFile) cutBackErr() error {
	if err := s.cutBack(); err != nil {
		return fmt.Errorf("audit: cut back checkpoint file: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *CheckpointFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrClosed
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// LatestCheckpoints reads a checkpoint file and returns the checkpoint with
// the highest sequence number of each stream (it fixes every record before
// it, so the earlier ones add nothing) among those whose signature
// verifies with keys. A line that parses but fails the signature check (a
// forged checkpoint, or one signed by a key not in keys) is never chosen,
// so it cannot hide a genuine checkpoint: it is reported as a *LineError
// wrapping ErrBadSignature and naming its line, joined into the error,
// while the genuine checkpoints are still returned beside it. An
// incomplete last line (a crash while appending) is ignored; any other
// unreadable line is a *LineError and nothing is returned.
func LatestCheckpoints(path string, keys ...ed25519.PublicKey) ([]Checkpoint, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open checkpoint file: %w", err)
	}
	defer f.Close()
	latest := map[string]Checkpoint{}
	var order []string
	var forged []error
	sc := newLineScanner(f)
	for {
		line, off, lineNo, err := sc.next()
		if err == io.EOF || errors.Is(err, ErrTorn) {
			break
		}
		if err == nil {
			var c Checkpoint
			if c, err = ParseCheckpoint(line); err == nil {
				if c.Verify(keys...) != nil {
					forged = append(forged, &LineError{Segment: filepath.Base(path), Line: lineNo, Offset: off, Err: ErrBadSignature})
					continue
				}
				prev, seen := latest[c.Stream]
				if !seen {
					order = append(order, c.Stream)
				}
				if !seen || c.Seq >= prev.Seq {
					latest[c.Stream] = c
				}
				continue
			}
		}
		return nil, &LineError{Segment: filepath.Base(path), Line: lineNo, Offset: off, Err: err}
	}
	out := make([]Checkpoint, 0, len(order))
	for _, s := range order {
		out = append(out, latest[s])
	}
	return out, errors.Join(forged...)
}
