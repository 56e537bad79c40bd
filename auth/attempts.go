package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/durable"
)

// AttemptStore counts login attempts per throttle key: client keys, and
// account names that match no usable user (unknown, disabled, removed or
// locked), so that those are throttled exactly like known accounts, whose
// count lives in User.Lockout. Keys are opaque 64-character hex digests;
// the store never sees a name or a client address.
//
// Implementations are safe for concurrent use. Replicas must share one
// store (pgauth.AttemptStore) for the limits to be deployment-wide;
// MemoryAttemptStore suits one process, FileAttemptStore one process on
// the file stores.
type AttemptStore interface {
	// Reserve atomically reads the key's count and the time of its latest
	// attempt (0 and the zero time when unknown or idle for forget),
	// asks wait how long an attempt must still wait, and when that is 0
	// counts the attempt at now. It returns wait's answer; nothing is
	// counted when it is not 0.
	Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(count int, last time.Time) time.Duration) (time.Duration, error)
	// Release gives back one counted attempt (it turned out to be right).
	Release(ctx context.Context, key string) error
}

// attemptKey is the AttemptStore key of a throttle key.
func attemptKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

// validAttemptKey reports whether k has the form attemptKey returns.
func validAttemptKey(k string) bool {
	if len(k) != 64 {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil
}

// MemoryAttemptStore is an AttemptStore in memory for one process, bounded
// to a number of keys (idle keys are dropped first, then arbitrary ones).
// Build it with NewMemoryAttemptStore.
type MemoryAttemptStore struct {
	mu      sync.Mutex
	max     int
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	last     time.Time
}

var _ AttemptStore = (*MemoryAttemptStore)(nil)

// NewMemoryAttemptStore returns an empty store holding at most maxKeys keys
// (0 means 100000).
func NewMemoryAttemptStore(maxKeys int) *MemoryAttemptStore {
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &MemoryAttemptStore{max: maxKeys, entries: map[string]*throttleEntry{}}
}

// Reserve implements AttemptStore.
func (s *MemoryAttemptStore) Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(int, time.Time) time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if ok && now.Sub(e.last) >= forget {
		e.failures, e.last = 0, time.Time{}
	}
	var n int
	var last time.Time
	if ok {
		n, last = e.failures, e.last
	}
	if w := wait(n, last); w > 0 {
		return w, nil
	}
	if !ok {
		if len(s.entries) >= s.max {
			s.evict(now, forget)
		}
		e = &throttleEntry{}
		s.entries[key] = e
	}
	e.failures++
	e.last = now
	return 0, nil
}

// Release implements AttemptStore.
func (s *MemoryAttemptStore) Release(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok && e.failures > 0 {
		e.failures--
	}
	return nil
}

// evict drops idle entries, and when none is idle, arbitrary ones, until a
// tenth of the capacity is free; s.mu is held.
func (s *MemoryAttemptStore) evict(now time.Time, forget time.Duration) {
	for k, e := range s.entries {
		if now.Sub(e.last) >= forget {
			delete(s.entries, k)
		}
	}
	target := s.max - max(1, s.max/10)
	for k := range s.entries {
		if len(s.entries) <= target {
			break
		}
		delete(s.entries, k)
	}
}

func (s *MemoryAttemptStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// FileAttemptStore is an AttemptStore in a directory, one small file per
// key written durably (atomic replace and fsync) at every counted attempt,
// so that a failed attempt on an unknown name costs the same durable write
// as one on a known account of the FileUserStore. One process owns the
// directory (a lock file). Build it with OpenFileAttemptStore.
type FileAttemptStore struct {
	dir  string
	lock *durable.Lock
	mu   sync.Mutex
}

var _ AttemptStore = (*FileAttemptStore)(nil)

// attemptFile is the on-disk form of one key's count (format v1).
type attemptFile struct {
	V     int       `json:"v"`
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// OpenFileAttemptStore opens (creating) the directory dir.
func OpenFileAttemptStore(dir string) (*FileAttemptStore, error) {
	lock, _, err := openStoreDir(dir, "attempt store")
	if err != nil {
		return nil, err
	}
	return &FileAttemptStore{dir: dir, lock: lock}, nil
}

// Close releases the directory.
func (s *FileAttemptStore) Close() error { return s.lock.Unlock() }

func (s *FileAttemptStore) read(key string) (attemptFile, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, key+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return attemptFile{}, nil
	}
	if err != nil {
		return attemptFile{}, fmt.Errorf("auth: attempt store: %w", durable.WithoutPath(err))
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
func (s *FileAttemptStore) Purge(cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("auth: attempt store: %w", durable.WithoutPath(err))
	}
	n := 0
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validAttemptKey(key) {
			continue
		}
		f, err := s.read(key)
		if err != nil {
			return n, err
		}
		if f.Last.Before(cutoff) {
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return n, fmt.Errorf("auth: attempt store: %w", durable.WithoutPath(err))
			}
			n++
		}
	}
	return n, nil
}

func (s *FileAttemptStore) write(key string, f attemptFile) error {
	f.V = 1
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("auth: attempt store: %w", err)
	}
	if err := durable.WriteFileAtomic(filepath.Join(s.dir, key+".json"), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("auth: attempt store: %w", durable.WithoutPath(err))
	}
	return nil
}

// Reserve implements AttemptStore.
func (s *FileAttemptStore) Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(int, time.Time) time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !validAttemptKey(key) {
		return 0, errors.New("auth: attempt store: malformed key")
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

// Release implements AttemptStore.
func (s *FileAttemptStore) Release(ctx context.Context, key string) error {
	if !validAttemptKey(key) {
		return errors.New("auth: attempt store: malformed key")
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
