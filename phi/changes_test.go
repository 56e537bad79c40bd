package phi_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// notifyingStore is a counting memstore that announces changes when the
// test says so, standing for a store shared with other processes.
type notifyingStore struct {
	countingStore
	mu      sync.Mutex
	w       phi.KeyChangeWatcher
	stopped int
}

func (s *notifyingStore) WatchKeyChanges(w phi.KeyChangeWatcher) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stopped++
	}
}

func (s *notifyingStore) watcher(t *testing.T) phi.KeyChangeWatcher {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		t.Fatal("the Vault does not watch a store that announces changes")
	}
	return s.w
}

type watchEnv struct {
	vault  *phi.Vault
	store  *notifyingStore
	clock  *clock.Fake
	bind   phi.Binding
	sealed phi.Sealed
}

// newWatchEnv returns a Vault over a notifying store, one subject sealed
// and cached.
func newWatchEnv(t *testing.T) *watchEnv {
	t.Helper()
	e := &watchEnv{store: &notifyingStore{countingStore: countingStore{KeyStore: memstore.New(memstore.Config{})}},
		clock: clock.NewFake(t0), bind: phi.Binding{Subject: "patient-1", Field: "dob"}}
	var err error
	if e.vault, err = phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: testKEK(t, 1), Clock: e.clock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.vault.Close() })
	if e.sealed, err = e.vault.Seal(context.Background(), e.bind, []byte("1970-01-01")); err != nil {
		t.Fatal(err)
	}
	return e
}

// reads opens the sealed value and returns how many store calls it took.
func (e *watchEnv) reads(t *testing.T) int64 {
	t.Helper()
	before := e.store.calls.Load()
	if _, err := e.vault.Open(context.Background(), e.bind, e.sealed); err != nil {
		t.Fatal(err)
	}
	return e.store.calls.Load() - before
}

// Before the announcements are live, and after they drop, cached keys are
// used at most phi.UnwatchedCacheTTL; while live, until the cache TTL or an
// announcement.
func TestWatchedCacheBounds(t *testing.T) {
	e := newWatchEnv(t)
	w := e.store.watcher(t)
	if e.vault.KeyChangesLive() {
		t.Fatal("live before the store said so")
	}
	if n := e.reads(t); n != 0 {
		t.Fatalf("a fresh entry took %d store reads, want 0 (cached)", n)
	}
	e.clock.Advance(phi.UnwatchedCacheTTL)
	if n := e.reads(t); n != 1 {
		t.Fatalf("not live, an entry UnwatchedCacheTTL old took %d store reads, want 1", n)
	}

	w.Watching(true)
	if !e.vault.KeyChangesLive() {
		t.Fatal("not live after Watching(true)")
	}
	if n := e.reads(t); n != 1 {
		t.Fatalf("going live kept the cache (%d reads), want it dropped", n)
	}
	e.clock.Advance(time.Minute)
	if n := e.reads(t); n != 0 {
		t.Fatalf("live, an entry a minute old took %d store reads, want 0", n)
	}
	w.KeyChanged("patient-2")
	if n := e.reads(t); n != 0 {
		t.Fatalf("another subject's announcement dropped the entry (%d reads)", n)
	}
	w.KeyChanged("patient-1")
	if n := e.reads(t); n != 1 {
		t.Fatalf("after its announcement the entry took %d reads, want 1", n)
	}
	w.AllKeysChanged()
	if n := e.reads(t); n != 1 {
		t.Fatalf("after AllKeysChanged the entry took %d reads, want 1", n)
	}
	e.clock.Advance(phi.DefaultCacheTTL)
	if n := e.reads(t); n != 1 {
		t.Fatalf("live, an entry past the cache TTL took %d reads, want 1", n)
	}

	w.Watching(false)
	if e.vault.KeyChangesLive() {
		t.Fatal("live after Watching(false)")
	}
	if n := e.reads(t); n != 1 {
		t.Fatalf("disconnecting kept the cache (%d reads), want it dropped", n)
	}
	e.clock.Advance(phi.UnwatchedCacheTTL - time.Nanosecond)
	if n := e.reads(t); n != 0 {
		t.Fatalf("disconnected, an entry under UnwatchedCacheTTL old took %d reads, want 0", n)
	}
	e.clock.Advance(time.Nanosecond)
	if n := e.reads(t); n != 1 {
		t.Fatalf("disconnected, an entry UnwatchedCacheTTL old took %d reads, want 1", n)
	}
}

// A shred announced by another process makes Open and Seal fail at once,
// although the keys were cached.
func TestAnnouncedShredRefusedAtOnce(t *testing.T) {
	e := newWatchEnv(t)
	w := e.store.watcher(t)
	w.Watching(true)
	ctx := context.Background()
	if _, err := e.vault.Open(ctx, e.bind, e.sealed); err != nil {
		t.Fatal(err)
	}
	// Another process shreds: straight in the store, then the announcement.
	if _, err := e.store.KeyStore.Shred(ctx, e.bind.Subject); err != nil {
		t.Fatal(err)
	}
	if _, err := e.vault.Open(ctx, e.bind, e.sealed); err != nil {
		t.Fatalf("before the announcement the cached keys still open: %v", err)
	}
	w.KeyChanged(e.bind.Subject)
	if _, err := e.vault.Open(ctx, e.bind, e.sealed); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Open after the announced shred: %v, want ErrShredded", err)
	}
	if _, err := e.vault.Seal(ctx, e.bind, []byte("x")); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Seal after the announced shred: %v, want ErrShredded", err)
	}
}

// Close stops the watch (once, however often it is called) and falls back
// to the unwatched bound.
func TestCloseStopsWatching(t *testing.T) {
	e := newWatchEnv(t)
	e.store.watcher(t).Watching(true)
	for range 2 {
		if err := e.vault.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if e.store.stopped == 0 || e.vault.KeyChangesLive() {
		t.Fatalf("after Close: stop called %d times, live %v", e.store.stopped, e.vault.KeyChangesLive())
	}
	e.reads(t)
	e.clock.Advance(phi.UnwatchedCacheTTL)
	if n := e.reads(t); n != 1 {
		t.Fatalf("after Close, an entry UnwatchedCacheTTL old took %d reads, want 1", n)
	}
}

// With the cache off there is nothing to invalidate: the Vault does not
// watch.
func TestNoCacheDoesNotWatch(t *testing.T) {
	s := &notifyingStore{countingStore: countingStore{KeyStore: memstore.New(memstore.Config{})}}
	v, err := phi.NewVault(phi.VaultConfig{Keys: s, KEK: testKEK(t, 1), NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if s.w != nil {
		t.Fatal("a Vault without cache watches its store")
	}
}
