package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
)

const (
	// lockName is the lock file that serialises writers across processes.
	lockName = ".lock"
	// markerName holds the directory layout version.
	markerName = "FORMAT"
	// markerContent is the content of the marker for layout version 1.
	markerContent = "hipaakit phi/filestore 1\n"

	filePerm = 0o600
	dirPerm  = 0o700

	// readAttempts bounds re-reads of a record that fails its checksum
	// because a writer scrubbed the old file while it was being read.
	readAttempts = 3
	// lockPollMin and lockPollMax bound the wait between attempts to take
	// the cross-process lock.
	lockPollMin = 50 * time.Microsecond
	lockPollMax = 5 * time.Millisecond
)

// errLimit reports a List call with a non-positive limit.
var errLimit = errors.New("phi/filestore: list limit must be positive")

// Store is a phi.KeyStore over one directory. It is safe for concurrent use
// by goroutines and by processes that open the same directory.
type Store struct {
	dir   string
	clock clock.Clock
	// sem serialises this handle's writers before they contend for the
	// file lock; a channel rather than a mutex so waiting honours ctx.
	sem chan struct{}
}

var _ phi.KeyStore = (*Store)(nil)

// Config configures Open. The zero value is the default.
type Config struct {
	// Clock stamps Created, Updated and tombstones. nil means clock.System.
	Clock clock.Clock
}

// Open returns a Store over dir, creating dir with mode 0700 if needed. Give
// each Store a directory of its own (for example <data dir>/keys).
func Open(dir string, cfg Config) (*Store, error) {
	if dir == "" {
		return nil, errors.New("phi/filestore: empty directory name")
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return nil, fmt.Errorf("phi/filestore: create directory: %w", err)
		}
		// Make the new directory's entry durable in its parent.
		if err := durable.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("phi/filestore: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("phi/filestore: stat directory: %w", err)
	}
	s := &Store{dir: dir, clock: clock.OrSystem(cfg.Clock), sem: make(chan struct{}, 1)}
	marker := filepath.Join(dir, markerName)
	switch b, err := os.ReadFile(marker); {
	case errors.Is(err, fs.ErrNotExist):
		if err := checkEmpty(dir); err != nil {
			return nil, err
		}
		if err := durable.WriteFileAtomic(marker, []byte(markerContent), filePerm); err != nil {
			return nil, fmt.Errorf("phi/filestore: write layout marker: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("phi/filestore: read layout marker: %w", err)
	case string(b) != markerContent:
		return nil, fmt.Errorf("%w: directory layout marker does not name layout 1", ErrUnsupportedVersion)
	}
	s.removeTemps()
	return s, nil
}

// checkEmpty refuses to turn a directory that already holds other files into
// a key store, so that the store never mistakes foreign files for records.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("phi/filestore: read directory: %w", err)
	}
	for _, e := range entries {
		if e.Name() != lockName && e.Name() != markerName {
			return errors.New("phi/filestore: directory is not empty and holds no key store; give the store a directory of its own")
		}
	}
	return nil
}

// removeTemps deletes temporary files that a writer left behind when it
// crashed. It runs only if no writer holds the lock right now.
func (s *Store) removeTemps() {
	l, err := durable.TryLock(filepath.Join(s.dir, lockName))
	if err != nil {
		return
	}
	defer l.Unlock()
	durable.RemoveTemps(s.dir) //nolint:errcheck // best effort: a leftover temporary file harms nothing
}

// lock takes this handle's semaphore and then the directory's file lock,
// polling with jittered backoff until it is free or ctx is done.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	delay := lockPollMin
	for {
		l, err := durable.TryLock(filepath.Join(s.dir, lockName))
		if err == nil {
			return func() { l.Unlock(); <-s.sem }, nil
		}
		if !errors.Is(err, durable.ErrLocked) {
			<-s.sem
			return nil, fmt.Errorf("phi/filestore: lock: %w", err)
		}
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			<-s.sem
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
}

// path returns the record file of ref.
func (s *Store) path(ref string) string { return filepath.Join(s.dir, fileName(ref)) }

// read returns the record of ref, or nil when there is none.
func (s *Store) read(ref string) (*record, error) {
	var err error
	for range readAttempts {
		var b []byte
		b, err = os.ReadFile(s.path(ref))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("phi/filestore: read record: %w", err)
		}
		var rec *record
		if rec, err = decode(b); err == nil {
			if rec.keyset.Ref != ref {
				return nil, corrupt("record is stored under another reference's file name")
			}
			return rec, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			break
		}
		// A writer may have scrubbed the old file under us; read again.
	}
	return nil, err
}

// write replaces ref's record with rec durably, then overwrites the old
// file's blocks with zeros (best effort: see the package documentation).
func (s *Store) write(rec *record) error {
	path := s.path(rec.keyset.Ref)
	old, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("phi/filestore: open old record: %w", err)
	}
	if err := durable.WriteFileAtomic(path, rec.encode(), filePerm); err != nil {
		if old != nil {
			old.Close()
		}
		return fmt.Errorf("phi/filestore: write record: %w", err)
	}
	if old != nil {
		scrub(old)
	}
	return nil
}

// scrub overwrites f (already unlinked) with zeros, syncs and closes it.
// Errors are ignored: the record it held is no longer reachable through the
// store either way.
func scrub(f *os.File) {
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	zeros := make([]byte, min(fi.Size(), 64<<10))
	for off := int64(0); off < fi.Size(); off += int64(len(zeros)) {
		n := min(int64(len(zeros)), fi.Size()-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return
		}
	}
	f.Sync()
}

// Get returns the keyset stored under ref.
func (s *Store) Get(ctx context.Context, ref string) (phi.WrappedKeyset, error) {
	if err := ctx.Err(); err != nil {
		return phi.WrappedKeyset{}, err
	}
	if !phi.ValidRef(ref) {
		return phi.WrappedKeyset{}, errInvalidRef
	}
	rec, err := s.read(ref)
	switch {
	case err != nil:
		return phi.WrappedKeyset{}, err
	case rec == nil:
		return phi.WrappedKeyset{}, phi.ErrKeyNotFound
	case rec.tombstone:
		return phi.WrappedKeyset{}, phi.ErrShredded
	}
	return rec.keyset, nil
}

// mutate is the read-modify-write behind Create, Update and Shred: under
// both locks it reads ref's record (nil if none) and hands it to fn, then
// writes the record fn returns, if any. A corrupt record reaches fn as nil
// only when tolerateCorrupt is set. With announce, a successful fn (whether
// or not it wrote) bumps the change counter, still under the lock, so that
// other processes' Vaults drop their cached keys (WatchKeyChanges).
func (s *Store) mutate(ctx context.Context, ref string, tolerateCorrupt, announce bool, fn func(cur *record) (*record, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := s.read(ref)
	if err != nil && !(tolerateCorrupt && errors.Is(err, ErrCorrupt)) {
		return err
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	if next != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.write(next); err != nil {
			return err
		}
	}
	if announce {
		return s.bumpGeneration()
	}
	return nil
}

// Create stores k under k.Ref with Version 1.
func (s *Store) Create(ctx context.Context, k phi.WrappedKeyset) error {
	if err := checkKeyset(k); err != nil {
		return err
	}
	return s.mutate(ctx, k.Ref, false, false, func(cur *record) (*record, error) {
		switch {
		case cur != nil && cur.tombstone:
			return nil, phi.ErrShredded
		case cur != nil:
			return nil, phi.ErrKeyExists
		}
		now := s.clock.Now().UTC()
		k.Version, k.Created, k.Updated = 1, now, now
		return &record{keyset: k}, nil
	})
}

// Update replaces the keyset under k.Ref if its Version is prevVersion.
func (s *Store) Update(ctx context.Context, k phi.WrappedKeyset, prevVersion int64) error {
	if err := checkKeyset(k); err != nil {
		return err
	}
	return s.mutate(ctx, k.Ref, false, true, func(cur *record) (*record, error) {
		switch {
		case cur == nil:
			return nil, phi.ErrKeyNotFound
		case cur.tombstone:
			return nil, phi.ErrShredded
		case cur.keyset.Version != prevVersion:
			return nil, phi.ErrConflict
		}
		k.Version = prevVersion + 1
		k.Created = cur.keyset.Created
		k.Updated = s.clock.Now().UTC()
		return &record{keyset: k}, nil
	})
}

// Shred replaces the keyset under ref with a tombstone and returns the key
// IDs it destroyed. A corrupt record is shredded like any other: destruction
// must not depend on the record being readable.
func (s *Store) Shred(ctx context.Context, ref string) (destroyed []uint32, err error) {
	if !phi.ValidRef(ref) {
		return nil, errInvalidRef
	}
	err = s.mutate(ctx, ref, true, true, func(cur *record) (*record, error) {
		if cur != nil && cur.tombstone {
			return nil, nil
		}
		if cur != nil {
			destroyed = cur.keyset.KeyIDs
		}
		tomb := &record{tombstone: true, shredded: s.clock.Now().UTC()}
		tomb.keyset.Ref = ref
		return tomb, nil
	})
	if err != nil {
		return nil, err
	}
	return destroyed, nil
}

// List returns up to limit keysets with Ref > after, ordered by Ref.
func (s *Store) List(ctx context.Context, after string, limit int) ([]phi.WrappedKeyset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, errLimit
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("phi/filestore: read directory: %w", err)
	}
	var refs []string
	for _, e := range entries {
		ref, ok := refFromName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if ref > after {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, strings.Compare)
	var out []phi.WrappedKeyset
	for _, ref := range refs {
		if len(out) == limit {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := s.read(ref)
		if err != nil {
			return nil, err
		}
		if rec != nil && !rec.tombstone {
			out = append(out, rec.keyset)
		}
	}
	return out, nil
}
