package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hipaakit/hipaakit/durable"
)

// DirTarget is the embedded default Target: one file per object under a root
// directory (created with mode 0700, files 0600). Put writes a temporary
// file, fsyncs it, renames it into place and fsyncs the directory, so an
// object is either absent or complete after a crash. Temporary files begin
// with "." and are never listed.
type DirTarget struct {
	root string

	mu    sync.Mutex
	dirs  map[string]bool // directories known to exist and be durable
	dirty map[string]bool // directories with a batched rename not yet synced
	// flushMu serialises Flush, so that a Flush returns only after every
	// directory dirtied before it began is synced, also when another
	// Flush took it.
	flushMu sync.Mutex

	// Fault-injection hooks for tests; nil means the real operation.
	write   func(f *os.File, b []byte) (int, error)
	sync    func(f *os.File) error
	syncDir func(dir string) error
}

var (
	_ Target      = (*DirTarget)(nil)
	_ Creator     = (*DirTarget)(nil)
	_ BatchPutter = (*DirTarget)(nil)
)

// NewDirTarget returns a Target storing objects under root, creating root
// (mode 0700) when it does not exist.
func NewDirTarget(root string) (*DirTarget, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("backup: directory target: %w", durable.WithoutPath(err))
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("backup: directory target: %w", durable.WithoutPath(err))
	}
	return &DirTarget{root: abs, dirs: map[string]bool{abs: true}}, nil
}

// Root returns the target's root directory.
func (d *DirTarget) Root() string { return d.root }

func (d *DirTarget) path(name string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("%w", ErrInvalidName)
	}
	return filepath.Join(d.root, filepath.FromSlash(name)), nil
}

// ensureDir creates dir and its parents below root durably.
func (d *DirTarget) ensureDir(dir string) error {
	d.mu.Lock()
	known := d.dirs[dir]
	d.mu.Unlock()
	if known {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && strings.HasPrefix(parent, d.root) {
		if err := d.ensureDir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	} else if err == nil {
		if err := durable.SyncDir(parent); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.dirs[dir] = true
	d.mu.Unlock()
	return nil
}

// Put implements Target.
func (d *DirTarget) Put(ctx context.Context, name string, data []byte) error {
	return d.put(ctx, name, data, false)
}

// PutBatched implements BatchPutter: Put without the directory's fsync,
// which Flush does once for every directory written to.
func (d *DirTarget) PutBatched(ctx context.Context, name string, data []byte) error {
	return d.put(ctx, name, data, true)
}

// Flush implements BatchPutter: it fsyncs every directory a PutBatched
// renamed an object into since the last Flush.
func (d *DirTarget) Flush(ctx context.Context) error {
	d.flushMu.Lock()
	defer d.flushMu.Unlock()
	d.mu.Lock()
	dirs := d.dirty
	d.dirty = nil
	d.mu.Unlock()
	pending := slices.Collect(maps.Keys(dirs))
	for i, dir := range pending {
		sync := durable.SyncDir
		if d.syncDir != nil {
			sync = d.syncDir
		}
		err := ctx.Err()
		if err == nil {
			err = sync(dir)
		}
		if err != nil {
			for _, p := range pending[i:] { // still pending for the next Flush
				d.markDirty(p)
			}
			return fmt.Errorf("backup: directory target: flush: %w", durable.WithoutPath(err))
		}
	}
	return nil
}

func (d *DirTarget) markDirty(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dirty == nil {
		d.dirty = map[string]bool{}
	}
	d.dirty[dir] = true
}

func (d *DirTarget) put(ctx context.Context, name string, data []byte, batched bool) (err error) {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	tmp, err := d.writeTemp(dir, filepath.Base(p), data)
	if err != nil {
		return fmt.Errorf("backup: directory target: put %s: %w", name, durable.WithoutPath(err))
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("backup: directory target: put %s: %w", name, durable.WithoutPath(err))
		}
	}()
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = os.Rename(tmp, p); err != nil {
		return err
	}
	if batched {
		d.markDirty(dir)
		return nil
	}
	if d.syncDir != nil {
		return d.syncDir(dir)
	}
	return durable.SyncDir(dir)
}

// Create implements Creator: like Put, but the temporary file is hard-linked
// to the name, which fails if the name exists.
func (d *DirTarget) Create(ctx context.Context, name string, data []byte) (err error) {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	tmp, err := d.writeTemp(dir, filepath.Base(p), data)
	if err != nil {
		return fmt.Errorf("backup: directory target: create %s: %w", name, durable.WithoutPath(err))
	}
	defer os.Remove(tmp)
	if err = os.Link(tmp, p); errors.Is(err, fs.ErrExist) {
		return objErr("create", name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("backup: directory target: create %s: %w", name, durable.WithoutPath(err))
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("backup: directory target: create %s: %w", name, durable.WithoutPath(err))
	}
	return nil
}

// writeTemp writes data to a new temporary file (mode 0600) beside base in
// dir, creating dir durably first, and fsyncs it. It returns the file's path.
func (d *DirTarget) writeTemp(dir, base string, data []byte) (string, error) {
	if err := d.ensureDir(dir); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	write := d.write
	if write == nil {
		write = (*os.File).Write
	}
	syncf := d.sync
	if syncf == nil {
		syncf = (*os.File).Sync
	}
	_, err = write(f, data)
	if err == nil {
		err = syncf(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// Open implements Target.
func (d *DirTarget) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, objErr("open", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: directory target: open %s: %w", name, durable.WithoutPath(err))
	}
	return f, nil
}

// Stat implements Target.
func (d *DirTarget) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	p, err := d.path(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return ObjectInfo{}, objErr("stat", name, ErrNotFound)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("backup: directory target: stat %s: %w", name, durable.WithoutPath(err))
	}
	return ObjectInfo{Name: name, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// List implements Target.
func (d *DirTarget) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if !ValidPrefix(prefix) {
		return fmt.Errorf("%w", ErrInvalidName)
	}
	// Walk the deepest directory that contains every match.
	start := d.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	var found []ObjectInfo
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() && p != start {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) || !ValidName(name) {
			return nil
		}
		st, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while listing
		}
		if err != nil {
			return err
		}
		found = append(found, ObjectInfo{Name: name, Size: st.Size(), ModTime: st.ModTime()})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("backup: directory target: list %s: %w", prefix, durable.WithoutPath(err))
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	for _, o := range found {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Target.
func (d *DirTarget) Delete(ctx context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := durable.RemoveDurable(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("backup: directory target: delete %s: %w", name, durable.WithoutPath(err))
	}
	return nil
}
