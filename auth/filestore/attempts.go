package filestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/internal/attempts"
	"github.com/hipaakit/hipaakit/durable"

	"context"
)

// auth.AttemptStore is an auth.AttemptStore in a directory, one small file per
// key written durably (atomic replace and fsync) at every counted attempt,
// so that a failed attempt on an unknown name costs the same durable write
// as one on a known account of the auth.UserStore. One process owns the
// directory (a lock file). Build it with OpenAttemptStore.
type AttemptStore struct {
	dir  string
	lock *durable.Lock
	mu   sync.Mutex
}

var _ auth.AttemptStore = (*AttemptStore)(nil)

// attemptFile is the on-disk form of one key's count (format v1).
type attemptFile struct {
	V     int       `json:"v"`
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// OpenAttemptStore opens (creating) the directory dir.
func OpenAttemptStore(dir string) (*AttemptStore, error) {
	lock, _, err := openStoreDir(dir, "attempt store")
	if err != nil {
		return nil, err
	}
	return &AttemptStore{dir: dir, lock: lock}, nil
}

// Close releases the directory.
func (s *AttemptStore) Close() error { return s.lock.Unlock() }

func (s *AttemptStore) read(key string) (attemptFile, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, key+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return attemptFile{}, nil
	}
	if err != nil {
		return attemptFile{}, fmt.Errorf("filestore: attempt store: %w", durable.WithoutPath(err))
	}
	return decodeAttemptFile(b), nil
}

// decodeAttemptFile decodes one key's file; a damaged one counts as zero
// rather than blocking logins forever.
func decodeAttemptFile(b []byte) attemptFile {
	var f attemptFile
	if len(b) > 4096 || json.Unmarshal(b, &f) != nil || f.V != 1 || f.Count < 0 {
		return attemptFile{}
	}
	return f
}

// Purge deletes the counts of keys idle since before cutoff (they are
// forgotten anyway); run it now and then to bound the directory.
func (s *AttemptStore) Purge(cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("filestore: attempt store: %w", durable.WithoutPath(err))
	}
	n := 0
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !attempts.ValidKey(key) {
			continue
		}
		f, err := s.read(key)
		if err != nil {
			return n, err
		}
		if f.Last.Before(cutoff) {
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return n, fmt.Errorf("filestore: attempt store: %w", durable.WithoutPath(err))
			}
			n++
		}
	}
	return n, nil
}

func (s *AttemptStore) write(key string, f attemptFile) error {
	f.V = 1
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("filestore: attempt store: %w", err)
	}
	if err := durable.WriteFileAtomic(filepath.Join(s.dir, key+".json"), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("filestore: attempt store: %w", durable.WithoutPath(err))
	}
	return nil
}

// Reserve implements auth.AttemptStore.
func (s *AttemptStore) Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(int, time.Time) time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !attempts.ValidKey(key) {
		return 0, errors.New("filestore: attempt store: malformed key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read(key)
	if err != nil {
		return 0, err
	}
	if f.Count > 0 && now.Sub(f.Last) >= forget {
		f = attemptFile{}
	}
	if w := wait(f.Count, f.Last); w > 0 {
		return w, nil
	}
	f.Count++
	f.Last = now.UTC()
	return 0, s.write(key, f)
}

// Release implements auth.AttemptStore.
func (s *AttemptStore) Release(ctx context.Context, key string) error {
	if !attempts.ValidKey(key) {
		return errors.New("filestore: attempt store: malformed key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read(key)
	if err != nil || f.Count == 0 {
		return err
	}
	f.Count--
	return s.write(key, f)
}
