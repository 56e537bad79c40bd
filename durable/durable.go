package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked reports that another process (or another handle in this process)
// holds the lock.
var ErrLocked = errors.New("durable: locked by another process")

// SyncDir fsyncs a directory so that entries created, renamed or removed in it
// survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("durable: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("durable: sync dir: %w", err)
	}
	return nil
}

// WriteFileAtomic replaces path with data so that, after a crash at any point,
// path holds either its old content or all of data, never a mix. It writes a
// temporary file in the same directory, fsyncs it, renames it over path and
// fsyncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("durable: create temp: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("durable: chmod temp: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("durable: write temp: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("durable: sync temp: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("durable: close temp: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("durable: rename: %w", err)
	}
	return SyncDir(dir)
}

// RemoveDurable removes path and fsyncs its directory. Removing a path that
// does not exist is not an error.
func RemoveDurable(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("durable: remove: %w", err)
	}
	return SyncDir(filepath.Dir(path))
}

// Lock is an exclusive advisory lock (flock) on a file.
type Lock struct {
	f *os.File
}

// TryLock takes an exclusive lock on path (creating it with mode 0600) without
// waiting. It returns ErrLocked when the lock is held elsewhere. The lock is
// released by Unlock or when the process exits, also by a crash.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("durable: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("durable: lock: %w", err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// WithoutPath returns err without the paths a *fs.PathError or *os.LinkError
// carries (keeping the operation and the cause), for errors that must not
// name files: a path can hold an identifier, and messages stay short.
func WithoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// tempInfix marks the temporary files WriteFileAtomic writes beside their
// target: "." + target name + tempInfix + random.
const tempInfix = ".tmp-"

// RemoveTemps removes from dir the temporary files WriteFileAtomic leaves
// behind when a crash interrupts it. Call it only while holding the
// directory's lock, so that no write in progress loses its temporary file.
func RemoveTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("durable: read dir: %w", WithoutPath(err))
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, tempInfix) && !e.IsDir() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("durable: remove temporary file: %w", WithoutPath(err))
			}
		}
	}
	return nil
}
