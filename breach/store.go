package breach

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hipaakit/hipaakit/durable"
)

// Store keeps incident entries, append-only. The file store (OpenFileStore)
// and the PostgreSQL store (breach/pgbreach) implement it and pass the
// conformance suite in breach/breachtest. Implementations are safe for
// concurrent use.
type Store interface {
	// Append stores e durably before it returns nil. e.Seq must be one
	// more than the incident's last entry (1 for a new incident);
	// otherwise Append returns ErrConflict and stores nothing.
	Append(ctx context.Context, e Entry) error
	// Entries returns an incident's entries in Seq order, or ErrNotFound.
	Entries(ctx context.Context, id string) ([]Entry, error)
	// IDs lists the identifiers of every incident, sorted.
	IDs(ctx context.Context) ([]string, error)
}

// FileName is the file a FileStore keeps in its directory.
const FileName = "incidents.jsonl"

// FileStore is a Store in one JSON Lines file (FORMAT.md): each line one
// entry, appended and fsync'ed before Append returns.
type FileStore struct {
	mu      sync.Mutex
	f       *os.File
	entries map[string][]Entry
	broken  error
}

var _ Store = (*FileStore)(nil)

// FileConfig configures a FileStore. Its zero value is the default.
type FileConfig struct{}

// OpenFileStore opens (creating it if needed, mode 0600 in a 0700
// directory) the store in dir and reads it whole. A line that does not
// parse, a torn last line or an entry out of sequence is an *EntryError
// naming the line; the store is never repaired silently.
func OpenFileStore(dir string, _ FileConfig) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("breach: create the incident directory: %w", durable.WithoutPath(err))
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("breach: open %s: %w", FileName, durable.WithoutPath(err))
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := durable.SyncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("breach: sync the incident directory: %w", durable.WithoutPath(err))
		}
	}
	s := &FileStore{f: f, entries: map[string][]Entry{}}
	if err := s.load(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *FileStore) load() error {
	data, err := os.ReadFile(s.f.Name())
	if err != nil {
		return fmt.Errorf("breach: read %s: %w", FileName, durable.WithoutPath(err))
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return &EntryError{Line: bytes.Count(data, []byte("\n")) + 1, Reason: "torn last line (no newline)", Err: ErrMalformed}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxEntryLine+1)
	for n := 1; sc.Scan(); n++ {
		e, err := ParseEntry(sc.Bytes())
		if err == nil {
			err = s.check(&e)
		}
		if err != nil {
			var ee *EntryError
			if errors.As(err, &ee) {
				ee.Line = n
			}
			return err
		}
		s.entries[e.Incident] = append(s.entries[e.Incident], e)
	}
	if sc.Err() != nil {
		return &EntryError{Reason: "line longer than the limit", Err: ErrMalformed}
	}
	for id, es := range s.entries {
		if _, err := Fold(es); err != nil {
			return fmt.Errorf("breach: incident %s: %w", id, err)
		}
	}
	return nil
}

// check returns ErrConflict (as an *EntryError when loading) for an entry
// that does not follow the incident's last one.
func (s *FileStore) check(e *Entry) error {
	if uint64(len(s.entries[e.Incident]))+1 != e.Seq {
		return &EntryError{Incident: e.Incident, Seq: e.Seq, Reason: "out of sequence", Err: ErrConflict}
	}
	return nil
}

// Append implements Store.
func (s *FileStore) Append(ctx context.Context, e Entry) error {
	line, err := e.Marshal()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if s.f == nil {
		return errors.New("breach: file store is closed")
	}
	if err := s.check(&e); err != nil {
		return ErrConflict
	}
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		s.broken = fmt.Errorf("breach: append to %s: %w", FileName, durable.WithoutPath(err))
		return s.broken
	}
	if err := s.f.Sync(); err != nil {
		s.broken = fmt.Errorf("breach: sync %s: %w", FileName, durable.WithoutPath(err))
		return s.broken
	}
	s.entries[e.Incident] = append(s.entries[e.Incident], e)
	return nil
}

// Entries implements Store.
func (s *FileStore) Entries(_ context.Context, id string) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	es, ok := s.entries[id]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(es), nil
}

// IDs implements Store.
func (s *FileStore) IDs(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.entries))
	for id := range s.entries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Close closes the file.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return durable.WithoutPath(err)
}
