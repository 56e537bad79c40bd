package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// CheckpointFile is a CheckpointSink that appends each checkpoint as a line
// to a file and fsyncs it: the embedded second place for checkpoints. Put
// it where whoever could truncate the log cannot (another disk, mount or
// machine), and pass LatestCheckpoints of it to VerifyOptions.Expect.
type CheckpointFile struct {
	mu sync.Mutex
	f  *os.File
}

var _ CheckpointSink = (*CheckpointFile)(nil)

// OpenCheckpointFile opens (creating with mode 0600) the checkpoint file at
// path for appending.
func OpenCheckpointFile(path string) (*CheckpointFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open checkpoint file: %w", err)
	}
	return &CheckpointFile{f: f}, nil
}

// WriteCheckpoint appends c and fsyncs the file.
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
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit: write checkpoint file: %w", err)
	}
	if err := fdatasync(s.f); err != nil {
		return fmt.Errorf("audit: sync checkpoint file: %w", err)
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
// it, so the earlier ones add nothing). Signatures are checked later, by
// the Verifier. An incomplete last line (a crash while appending) is
// ignored; any other unreadable line is a *LineError.
func LatestCheckpoints(path string) ([]Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open checkpoint file: %w", err)
	}
	defer f.Close()
	latest := map[string]Checkpoint{}
	var order []string
	sc := newLineScanner(f)
	for {
		line, off, lineNo, err := sc.next()
		if err == io.EOF || errors.Is(err, ErrTorn) {
			break
		}
		if err == nil {
			var c Checkpoint
			if c, err = ParseCheckpoint(line); err == nil {
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
		return nil, &LineError{Line: lineNo, Offset: off, Err: err}
	}
	out := make([]Checkpoint, 0, len(order))
	for _, s := range order {
		out = append(out, latest[s])
	}
	return out, nil
}
