package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
)

// Hold file format (FORMAT.md).
const (
	holdFileFormat  = "hipaakit-legal-holds"
	holdFileVersion = 1
	holdFileName    = "holds.json"
	holdLockName    = "holds.lock"
	maxHoldFileSize = 64 << 20
)

// ErrCorruptHolds reports a hold file that does not parse; the store then
// refuses every operation (and so every disposal) until an operator repairs
// or restores the file.
var ErrCorruptHolds = errors.New("retention: corrupt hold file")

// ErrUnsupportedVersion reports a persisted file of a version this code does
// not know.
var ErrUnsupportedVersion = errors.New("retention: unsupported format version")

// FileHoldStore keeps holds in one JSON file (holds.json) in a directory,
// replaced atomically on every change under an exclusive lock file, so that
// several processes may share the directory.
type FileHoldStore struct {
	dir string
	mu  sync.Mutex // orders this process's own callers before the file lock
}

var _ HoldStore = (*FileHoldStore)(nil)

// OpenFileHoldStore returns a store in dir, creating dir (mode 0700) if
// needed.
func OpenFileHoldStore(dir string) (*FileHoldStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("retention: create hold directory: %w", durable.WithoutPath(err))
	}
	return &FileHoldStore{dir: dir}, nil
}

type holdFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Holds   []Hold `json:"holds"`
}

// ParseHolds decodes a hold file. It is strict: unknown fields, an unknown
// version, malformed or duplicate holds are errors (ErrCorruptHolds or
// ErrUnsupportedVersion), never quoting the input.
func ParseHolds(data []byte) ([]Hold, error) {
	if len(data) > maxHoldFileSize {
		return nil, fmt.Errorf("%w: too large", ErrCorruptHolds)
	}
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil || probe.Format != holdFileFormat {
		return nil, fmt.Errorf("%w: not a hold file", ErrCorruptHolds)
	}
	if probe.Version != holdFileVersion {
		return nil, fmt.Errorf("%w: hold file version %d", ErrUnsupportedVersion, probe.Version)
	}
	var f holdFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() {
		return nil, fmt.Errorf("%w: malformed", ErrCorruptHolds)
	}
	for i, h := range f.Holds {
		if err := checkStored(h); err != nil {
			return nil, fmt.Errorf("%w: hold %d: %s", ErrCorruptHolds, i+1, err)
		}
		if i > 0 && f.Holds[i-1].ID >= h.ID {
			return nil, fmt.Errorf("%w: holds not sorted by unique ID", ErrCorruptHolds)
		}
	}
	if f.Holds == nil {
		f.Holds = []Hold{}
	}
	return f.Holds, nil
}

// checkStored validates a hold read from or written to storage.
func checkStored(h Hold) error {
	switch {
	case h.ID == "" || len(h.ID) > 64 || !ValidKind(h.ID):
		return errors.New("malformed id")
	case h.Subject == "" && h.Kind == "":
		return errors.New("no scope")
	case h.Subject != "" && !phi.ValidSubject(h.Subject):
		return errors.New("malformed subject")
	case h.Kind != "" && !ValidKind(h.Kind):
		return errors.New("malformed kind")
	case !validText(h.Reason) || !validText(h.SetBy) || h.SetAt.IsZero():
		return errors.New("missing reason, author or time")
	case !h.LiftedAt.IsZero() && (!validText(h.LiftedBy) || !validText(h.LiftReason)):
		return errors.New("lift without author or reason")
	case h.LiftedAt.IsZero() && (h.LiftedBy != "" || h.LiftReason != ""):
		return errors.New("lift details without lift time")
	}
	return nil
}

func encodeHolds(holds []Hold) []byte {
	b, _ := json.MarshalIndent(holdFile{Format: holdFileFormat, Version: holdFileVersion, Holds: holds}, "", "  ")
	return append(b, '\n')
}

// lock takes the directory's lock file, waiting while another process holds
// it, until ctx ends.
func (s *FileHoldStore) lock(ctx context.Context) (*durable.Lock, error) {
	for {
		l, err := durable.TryLock(filepath.Join(s.dir, holdLockName))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, durable.ErrLocked) {
			return nil, fmt.Errorf("retention: hold lock: %w", durable.WithoutPath(err))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (s *FileHoldStore) read() ([]Hold, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, holdFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return []Hold{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("retention: read holds: %w", durable.WithoutPath(err))
	}
	return ParseHolds(data)
}

// update runs fn on the current holds under the lock and writes the result.
func (s *FileHoldStore) update(ctx context.Context, fn func([]Hold) ([]Hold, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer l.Unlock()
	holds, err := s.read()
	if err != nil {
		return err
	}
	holds, err = fn(holds)
	if err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(filepath.Join(s.dir, holdFileName), encodeHolds(holds), 0o600); err != nil {
		return fmt.Errorf("retention: write holds: %w", durable.WithoutPath(err))
	}
	return nil
}

// Create implements HoldStore.
func (s *FileHoldStore) Create(ctx context.Context, h Hold) error {
	h.SetAt = h.SetAt.UTC()
	if err := checkStored(h); err != nil || !h.Active() {
		return fmt.Errorf("%w: %v", ErrInvalidHold, err)
	}
	return s.update(ctx, func(holds []Hold) ([]Hold, error) {
		i := sort.Search(len(holds), func(i int) bool { return holds[i].ID >= h.ID })
		if i < len(holds) && holds[i].ID == h.ID {
			return nil, ErrHoldExists
		}
		return append(holds[:i], append([]Hold{h}, holds[i:]...)...), nil
	})
}

// Lift implements HoldStore.
func (s *FileHoldStore) Lift(ctx context.Context, id, by, reason string, at time.Time) (Hold, error) {
	var out Hold
	err := s.update(ctx, func(holds []Hold) ([]Hold, error) {
		i := sort.Search(len(holds), func(i int) bool { return holds[i].ID >= id })
		if i == len(holds) || holds[i].ID != id {
			return nil, ErrHoldNotFound
		}
		if !holds[i].Active() {
			return nil, ErrHoldLifted
		}
		holds[i].LiftedBy, holds[i].LiftedAt, holds[i].LiftReason = by, at.UTC(), reason
		if err := checkStored(holds[i]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidHold, err)
		}
		out = holds[i]
		return holds, nil
	})
	return out, err
}

// List implements HoldStore. It reads the file without taking the lock:
// the file is only ever replaced atomically.
func (s *FileHoldStore) List(ctx context.Context) ([]Hold, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.read()
}
