// Package attempts holds the in-memory login-attempt counter that package
// auth uses by default and auth/memstore offers, and the key rule shared by
// the AttemptStore implementations.
package attempts

import (
	"context"
	"encoding/hex"
	"sync"
	"time"
)

// ValidKey reports whether k has the form of an AttemptStore key (64 hex
// digits, a SHA-256).
func ValidKey(k string) bool {
	if len(k) != 64 {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil
}

// Memory is an auth.AttemptStore in memory for one process, bounded
// to a number of keys (idle keys are dropped first, then arbitrary ones).
// Build it with NewMemory.
type Memory struct {
	mu      sync.Mutex
	max     int
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	last     time.Time
}

// NewMemory returns an empty store holding at most maxKeys keys
// (0 means 100000).
func NewMemory(maxKeys int) *Memory {
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &Memory{max: maxKeys, entries: map[string]*throttleEntry{}}
}

// Reserve implements auth.AttemptStore.
func (s *Memory) Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(int, time.Time) time.Duration) (time.Duration, error) {
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

// Release implements auth.AttemptStore.
func (s *Memory) Release(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok && e.failures > 0 {
		e.failures--
	}
	return nil
}

// evict drops idle entries, and when none is idle, arbitrary ones, until a
// tenth of the capacity is free; s.mu is held.
func (s *Memory) evict(now time.Time, forget time.Duration) {
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

// Len returns the number of keys held.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}
