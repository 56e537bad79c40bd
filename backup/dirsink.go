package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"golang.org/x/sys/unix"
)

// DirSink restores a directory or audit-trail backup into the directory
// Dest. It stages the restore in a hidden sibling directory, fsyncs every
// file (several at a time, in the background) and directory, and then renames the staging directory to Dest in one
// step, so Dest never holds a partial restore. An existing non-empty Dest is
// refused with ErrExists unless the restore is forced; a forced restore
// swaps the staging directory with Dest atomically (renameat2
// RENAME_EXCHANGE) and then removes the old content.
type DirSink struct {
	Dest string

	stage string
	dirs  []string
	meta  map[string]dirMeta // directory modes and times, set in Commit
	force bool
	syncs syncer // the files' fsyncs, waited for in Commit
}

// syncer fsyncs and closes written files in the background, a few at a
// time, so that writing the next files overlaps the flush latency of the
// last (a restore of many small files is otherwise one flush per file,
// end to end). Commit waits for every one and fails on the first error, so
// nothing is renamed into place before all of it is durable.
type syncer struct {
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	once sync.Once
}

// syncParallel bounds the fsyncs in flight.
const syncParallel = 16

func (s *syncer) add(f *os.File) {
	s.once.Do(func() { s.sem = make(chan struct{}, syncParallel) })
	s.sem <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.sem; s.wg.Done() }()
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}()
}

// wait returns once every file added is synced and closed, with the first
// error.
func (s *syncer) wait() error {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

var _ Sink = (*DirSink)(nil)

type dirMeta struct {
	mode  fs.FileMode
	mtime time.Time
}

// NewDirSink returns a sink restoring into dest. dest's parent must exist.
func NewDirSink(dest string) *DirSink { return &DirSink{Dest: dest} }

// Begin implements Sink.
func (d *DirSink) Begin(ctx context.Context, m *Manifest, force bool) error {
	if m.Source.Kind != "dir" && m.Source.Kind != "audit" {
		return fmt.Errorf("%w: directory sink, source kind %q", ErrSourceKind, m.Source.Kind)
	}
	abs, err := filepath.Abs(d.Dest)
	if err != nil {
		return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
	}
	d.Dest, d.force = abs, force
	if !force {
		if empty, err := dirEmpty(abs); err != nil {
			return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
		} else if !empty {
			return fmt.Errorf("%w: restore destination is not empty", ErrExists)
		}
	}
	stage, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".restore-*")
	if err != nil {
		return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
	}
	d.stage = stage
	d.dirs = []string{stage}
	d.meta = map[string]dirMeta{}
	return nil
}

// dirEmpty reports whether dir is missing or an empty directory.
func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(names) == 0, nil
}

// Entry implements Sink.
func (d *DirSink) Entry(ctx context.Context, e *Entry, body io.Reader) error {
	if !validEntryPath(e.Path) {
		return corruptf("entry has an invalid path")
	}
	p := filepath.Join(d.stage, filepath.FromSlash(e.Path))
	mode := fs.FileMode(e.Mode).Perm()
	switch e.Type {
	case EntryDir:
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
		}
		d.dirs = append(d.dirs, p)
		d.meta[p] = dirMeta{mode: mode, mtime: e.ModTime}
		return nil
	case EntryFile:
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
		}
		_, err = io.Copy(f, body)
		if err == nil {
			err = f.Chmod(mode)
		}
		if err == nil && !e.ModTime.IsZero() {
			err = os.Chtimes(p, e.ModTime, e.ModTime)
		}
		if err == nil {
			d.syncs.add(f) // fsynced and closed before Commit renames
		} else {
			f.Close()
		}
		if err != nil {
			var oe *ObjectError
			if errors.As(err, &oe) || errors.Is(err, context.Canceled) {
				return err
			}
			return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
		}
		return nil
	default:
		return fmt.Errorf("%w: directory sink, entry type %q", ErrSourceKind, e.Type)
	}
}

// Commit implements Sink.
func (d *DirSink) Commit(ctx context.Context) error {
	if err := d.syncs.wait(); err != nil {
		return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
	}
	// Deepest first, so every directory's entries are durable before it.
	sort.Slice(d.dirs, func(i, j int) bool { return len(d.dirs[i]) > len(d.dirs[j]) })
	for _, dir := range d.dirs {
		if dm, ok := d.meta[dir]; ok {
			err := os.Chmod(dir, dm.mode)
			if err == nil && !dm.mtime.IsZero() {
				err = os.Chtimes(dir, dm.mtime, dm.mtime)
			}
			if err != nil {
				return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
			}
		}
		if err := durable.SyncDir(dir); err != nil {
			return fmt.Errorf("backup: directory sink: %w", durable.WithoutPath(err))
		}
	}
	err := swapIntoPlace(d.stage, d.Dest, d.force, dirEmpty)
	if err == nil {
		d.stage = ""
	}
	return err
}

// swapIntoPlace moves the staged directory stage to dest atomically: a
// rename when dest does not exist, otherwise (dest empty by isEmpty, or
// force) an exchange of the two (renameat2 RENAME_EXCHANGE) followed by the
// removal of the old content. On success stage no longer exists.
func swapIntoPlace(stage, dest string, force bool, isEmpty func(string) (bool, error)) error {
	parent := filepath.Dir(dest)
	_, statErr := os.Lstat(dest)
	switch {
	case errors.Is(statErr, fs.ErrNotExist):
		if err := os.Rename(stage, dest); err != nil {
			return fmt.Errorf("backup: restore: move into place: %w", durable.WithoutPath(err))
		}
	case statErr != nil:
		return fmt.Errorf("backup: restore: %w", durable.WithoutPath(statErr))
	default:
		empty, err := isEmpty(dest)
		if err != nil {
			return fmt.Errorf("backup: restore: %w", durable.WithoutPath(err))
		}
		if !empty && !force {
			return fmt.Errorf("%w: restore destination is not empty", ErrExists)
		}
		if err := unix.Renameat2(unix.AT_FDCWD, stage, unix.AT_FDCWD, dest, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("backup: restore: swap into place: %w", err)
		}
		// stage now holds the old content.
		if err := durable.SyncDir(parent); err != nil {
			return fmt.Errorf("backup: restore: %w", durable.WithoutPath(err))
		}
		if err := os.RemoveAll(stage); err != nil {
			return fmt.Errorf("backup: restore: remove replaced content: %w", durable.WithoutPath(err))
		}
	}
	return durable.SyncDir(parent)
}

// Abort implements Sink.
func (d *DirSink) Abort(ctx context.Context) error {
	d.syncs.wait() //nolint:errcheck // the restore is abandoned; the files are removed
	if d.stage == "" {
		return nil
	}
	err := os.RemoveAll(d.stage)
	d.stage = ""
	if err != nil {
		return fmt.Errorf("backup: directory sink: remove staging: %w", durable.WithoutPath(err))
	}
	return nil
}
