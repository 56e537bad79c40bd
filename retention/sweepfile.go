package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Cursor file format (FORMAT.md).
const (
	cursorFormat   = "hipaakit-retention-cursor"
	cursorVersion  = 1
	cursorFileName = "sweep.cursor"
	sweepLockName  = "sweep.lock"
	maxCursorLen   = 1024
)

// ErrCorruptCursor reports a cursor file that does not parse. The sweep
// stops rather than guess where to resume; delete the file to start a full
// pass (shreds are idempotent, so nothing is disposed of twice).
var ErrCorruptCursor = errors.New("retention: corrupt sweep cursor")

// FileSweepState keeps the sweep lock (an exclusive lock file, released by
// the OS if the process dies) and cursor (an atomically replaced file) in a
// directory.
type FileSweepState struct {
	dir string
}

var _ SweepState = (*FileSweepState)(nil)

// OpenFileSweepState returns the state kept in dir, creating dir (mode
// 0700) if needed.
func OpenFileSweepState(dir string) (*FileSweepState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("retention: create state directory: %w", durable.WithoutPath(err))
	}
	return &FileSweepState{dir: dir}, nil
}

// Lock implements SweepState.
func (s *FileSweepState) Lock(ctx context.Context) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := durable.TryLock(filepath.Join(s.dir, sweepLockName))
	if errors.Is(err, durable.ErrLocked) {
		return nil, ErrSweepRunning
	}
	if err != nil {
		return nil, fmt.Errorf("retention: sweep lock: %w", durable.WithoutPath(err))
	}
	return l.Unlock, nil
}

type cursorFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	After   string `json:"after"`
}

// ParseCursor decodes a cursor file (ErrCorruptCursor or
// ErrUnsupportedVersion on bad input, never quoting it).
func ParseCursor(data []byte) (string, error) {
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if len(data) > 4*maxCursorLen || json.Unmarshal(data, &probe) != nil || probe.Format != cursorFormat {
		return "", ErrCorruptCursor
	}
	if probe.Version != cursorVersion {
		return "", fmt.Errorf("%w: cursor version %d", ErrUnsupportedVersion, probe.Version)
	}
	var c cursorFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// A cursor is whatever subject ID the Source last returned, valid for
	// phi or not (the shred of a malformed ID fails and is reported), so it
	// is only bounded here.
	if dec.Decode(&c) != nil || dec.More() || len(c.After) > maxCursorLen || !utf8.ValidString(c.After) {
		return "", ErrCorruptCursor
	}
	return c.After, nil
}

// Cursor implements SweepState.
func (s *FileSweepState) Cursor(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(s.dir, cursorFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("retention: read cursor: %w", durable.WithoutPath(err))
	}
	return ParseCursor(data)
}

// SetCursor implements SweepState.
func (s *FileSweepState) SetCursor(ctx context.Context, after string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, _ := json.Marshal(cursorFile{Format: cursorFormat, Version: cursorVersion, After: after})
	if err := durable.WriteFileAtomic(filepath.Join(s.dir, cursorFileName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("retention: write cursor: %w", durable.WithoutPath(err))
	}
	return nil
}
