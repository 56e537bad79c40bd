package backup

import (
	"context"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Source is something to back up: a directory (DirSource), the audit trail
// (AuditSource), a phi.KeyStore (KeyStoreSource) or a PostgreSQL schema
// (backup/pgsource).
type Source interface {
	// Info names the source; it is recorded in the manifest and must not
	// hold PHI.
	Info() SourceInfo
	// Walk calls emit once for every item, in a stable order. emit consumes
	// the item's Body before it returns. Walk stops with emit's error.
	Walk(ctx context.Context, emit func(Item) error) error
}

// Sizer is implemented by sources that can tell their total size in advance
// (for progress and ETA).
type Sizer interface {
	Size(ctx context.Context) (int64, error)
}

// Item is one entry a Source emits.
type Item struct {
	Path    string // clean, relative, slash-separated
	Type    EntryType
	Mode    fs.FileMode // permission bits
	ModTime time.Time
	Meta    map[string]string // non-PHI detail recorded in the manifest
	Body    io.Reader         // content; nil for directories
	// Size is the content's size, when SizeKnown. A source that knows it
	// (DirSource) lets a backup reuse the previous backup's chunks for a
	// file whose size, ModTime and Mode are unchanged, without reading it.
	Size      int64
	SizeKnown bool
	// Rows, when set, is called after Body is drained and returns the
	// number of records it held.
	Rows func() int64
}

// DirSource backs up a directory tree: directories and regular files, with
// their permission bits and modification times. It fails on symbolic links,
// devices and other special files rather than skip them silently.
type DirSource struct {
	Root string
	Kind string // "dir" when empty; AuditSource uses "audit"
	Name string // recorded as SourceInfo.Name; must not hold PHI
}

var _ Sizer = DirSource{}

// AuditSource backs up the audit trail of a file audit writer: the
// directory that holds its segments and checkpoints. Restore it with a
// DirSink; verify the restored trail with the audit package.
func AuditSource(dir string) DirSource { return DirSource{Root: dir, Kind: "audit", Name: "audit"} }

// Info implements Source.
func (d DirSource) Info() SourceInfo {
	k := d.Kind
	if k == "" {
		k = "dir"
	}
	return SourceInfo{Kind: k, Name: d.Name}
}

// Size implements Sizer.
func (d DirSource) Size(ctx context.Context) (int64, error) {
	var n int64
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Type().IsRegular() {
			st, err := e.Info()
			if err != nil {
				return err
			}
			n += st.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("backup: directory source: %w", durable.WithoutPath(err))
	}
	return n, nil
}

// Walk implements Source.
func (d DirSource) Walk(ctx context.Context, emit func(Item) error) error {
	st, err := os.Stat(d.Root)
	if err != nil {
		return fmt.Errorf("backup: directory source: %w", durable.WithoutPath(err))
	}
	if !st.IsDir() {
		return errors.New("backup: directory source: root is not a directory")
	}
	n := 0
	return filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("backup: directory source: entry %d: %w", n, durable.WithoutPath(err))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == d.Root {
			return nil
		}
		n++
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("backup: directory source: entry %d: %w", n, durable.WithoutPath(err))
		}
		it := Item{Path: filepath.ToSlash(rel), Mode: info.Mode().Perm(), ModTime: info.ModTime()}
		switch {
		case info.IsDir():
			it.Type = EntryDir
			return emit(it)
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("backup: directory source: entry %d: %w", n, durable.WithoutPath(err))
			}
			defer f.Close()
			it.Type, it.Body, it.Size, it.SizeKnown = EntryFile, f, info.Size(), true
			return emit(it)
		default:
			return fmt.Errorf("backup: directory source: entry %d is not a regular file or directory", n)
		}
	})
}
