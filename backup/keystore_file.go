package backup

import (
	"context"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit/phi/filestore"
)

// FileKeyStoreSink restores a key store backup into the directory of a
// phi/filestore key store (the embedded default) with no partial state ever
// visible: it builds a new store in a hidden sibling directory — replaying
// the disposal ledger into it first, as KeyStoreSink does — and then swaps
// it into place in one rename (renameat2 RENAME_EXCHANGE when Dir exists).
// A Dir that holds records is refused with ErrExists unless the restore is
// forced; a forced restore replaces the whole store, so keysets created
// since the backup are dropped. Run it while no process writes to Dir.
type FileKeyStoreSink struct {
	Dir    string
	Ledger LedgerReplayer

	// Restored, Shredded and Replayed: see KeyStoreSink.
	Restored, Shredded, Replayed int

	inner *KeyStoreSink
	stage string
	force bool
}

var _ Sink = (*FileKeyStoreSink)(nil)

// NewFileKeyStoreSink returns a sink restoring into the filestore directory
// dir after replaying ledger. ledger is required.
func NewFileKeyStoreSink(dir string, ledger LedgerReplayer) (*FileKeyStoreSink, error) {
	if dir == "" || ledger == nil {
		return nil, errors.New("backup: file key store sink needs a directory and the disposal ledger")
	}
	return &FileKeyStoreSink{Dir: dir, Ledger: ledger}, nil
}

// fileStoreEmpty reports whether dir is missing or holds no record (only
// the store's lock, its layout marker or temporary files).
func fileStoreEmpty(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") && e.Name() != "FORMAT" {
			return false, nil
		}
	}
	return true, nil
}

// Begin implements Sink.
func (f *FileKeyStoreSink) Begin(ctx context.Context, m *Manifest, force bool) error {
	if m.Source.Kind != "keystore" {
		return fmt.Errorf("%w: key store sink, source kind %q", ErrSourceKind, m.Source.Kind)
	}
	abs, err := filepath.Abs(f.Dir)
	if err != nil {
		return fmt.Errorf("backup: file key store sink: %w", durable.WithoutPath(err))
	}
	f.Dir, f.force = abs, force
	if !force {
		if empty, err := fileStoreEmpty(abs); err != nil {
			return fmt.Errorf("backup: file key store sink: %w", durable.WithoutPath(err))
		} else if !empty {
			return fmt.Errorf("%w: key store is not empty", ErrExists)
		}
	}
	stage, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".restore-*")
	if err != nil {
		return fmt.Errorf("backup: file key store sink: %w", durable.WithoutPath(err))
	}
	f.stage = stage
	store, err := filestore.Open(stage, filestore.Config{})
	if err != nil {
		f.Abort(ctx)
		return fmt.Errorf("backup: file key store sink: %w", durable.WithoutPath(err))
	}
	f.inner = &KeyStoreSink{Store: store, Ledger: f.Ledger, TempDir: filepath.Dir(abs)}
	if err := f.inner.Begin(ctx, m, false); err != nil {
		f.Abort(ctx)
		return err
	}
	return nil
}

// Entry implements Sink.
func (f *FileKeyStoreSink) Entry(ctx context.Context, e *Entry, body io.Reader) error {
	return f.inner.Entry(ctx, e, body)
}

// Commit implements Sink: the staged store is completed (ledger replayed,
// keysets created, ledger replayed again) and then swapped into place.
func (f *FileKeyStoreSink) Commit(ctx context.Context) error {
	if err := f.inner.Commit(ctx); err != nil {
		return err
	}
	f.Restored, f.Shredded, f.Replayed = f.inner.Restored, f.inner.Shredded, f.inner.Replayed
	if err := swapIntoPlace(f.stage, f.Dir, f.force, fileStoreEmpty); err != nil {
		return err
	}
	f.stage = ""
	return nil
}

// Abort implements Sink.
func (f *FileKeyStoreSink) Abort(ctx context.Context) error {
	if f.inner != nil {
		f.inner.Abort(ctx)
	}
	if f.stage == "" {
		return nil
	}
	err := os.RemoveAll(f.stage)
	f.stage = ""
	if err != nil {
		return fmt.Errorf("backup: file key store sink: remove staging: %w", durable.WithoutPath(err))
	}
	return nil
}
