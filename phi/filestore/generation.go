package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

var _ phi.KeyChangeNotifier = (*Store)(nil)

const (
	// generationName is the change counter: 8 bytes, big-endian, bumped
	// under the lock after every Update and Shred.
	generationName = ".generation"
	// generationPoll is how often a watcher reads the counter.
	generationPoll = 100 * time.Millisecond
)

// errGeneration reports a change counter that is neither empty nor 8 bytes.
var errGeneration = errors.New("phi/filestore: change counter is not 8 bytes")

// bumpGeneration adds one to the change counter. The caller holds the
// directory lock, so increments are never lost. The counter is written in
// place and not synced: it only has to tell running processes that
// something changed, and no process survives a crash with its cache.
func (s *Store) bumpGeneration() error {
	f, err := os.OpenFile(filepath.Join(s.dir, generationName), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return fmt.Errorf("phi/filestore: announce change: %w", pathless(err))
	}
	defer f.Close()
	var b [8]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("phi/filestore: announce change: %w", pathless(err))
	}
	var g uint64
	if n == len(b) {
		g = binary.BigEndian.Uint64(b[:])
	}
	binary.BigEndian.PutUint64(b[:], g+1)
	if _, err := f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("phi/filestore: announce change: %w", pathless(err))
	}
	return nil
}

// generation reads the change counter; a store never changed has none.
func (s *Store) generation() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, generationName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("phi/filestore: read change counter: %w", pathless(err))
	case len(b) == 0: // created, not yet written
		return 0, nil
	case len(b) != 8:
		return 0, errGeneration
	}
	return binary.BigEndian.Uint64(b), nil
}

// pathless drops the file name from an os error, so that errors never carry
// a path.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// WatchKeyChanges implements phi.KeyChangeNotifier for processes sharing
// the directory: every generationPoll (100 ms) it reads the change counter
// that Update and Shred bump, and on any change tells w that every keyset
// may have changed. While the counter cannot be read, w is not live.
func (s *Store) WatchKeyChanges(w phi.KeyChangeWatcher) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(generationPoll)
		defer t.Stop()
		var last uint64
		live := false
		for {
			// Read the counter before going live, so that a change after
			// the read is seen at the next poll.
			g, err := s.generation()
			switch {
			case err != nil && live:
				live = false
				w.Watching(false)
			case err != nil:
			case !live:
				last, live = g, true
				w.Watching(true)
			case g != last:
				last = g
				w.AllKeysChanged()
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
		})
	}
}
