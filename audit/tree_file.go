package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

// File names of a file log's Merkle tree, beside the segments.
const (
	// TreeHashesFile holds the stream's stored tree hashes, 32 bytes each
	// at offset 32 × tlog.StoredHashIndex.
	TreeHashesFile = "tree.hashes"
	// TreeCheckpointFile holds the newest format-v2 checkpoint note.
	TreeCheckpointFile = "checkpoint.note"
	// TreeCosignedFile is where a file log's witness cosignatures are kept
	// (witness.FileStore): the newest checkpoint note with the witnesses'
	// cosignature lines appended.
	TreeCosignedFile = "checkpoint.cosigned"
)

// fileTree is a file log's Merkle tree: the stored hashes in TreeHashesFile
// (written after the records they cover are durable, not synced: the
// records rebuild them) and the frontier in memory. The flusher appends;
// ReadHashes may run concurrently.
type fileTree struct {
	f     *os.File
	front *Frontier // owned by the flusher

	mu     sync.RWMutex
	stored int64 // stored hashes in the file that readers may use
	buf    []Hash
	wbuf   []byte // reused encoding of buf
}

var _ TreeStore = (*fileTree)(nil)

// ReadHashes implements TreeStore.
func (t *fileTree) ReadHashes(_ context.Context, idx []int64) ([]Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= t.stored {
			return nil, fmt.Errorf("%w: hash %d not stored", ErrNoTree, x)
		}
		if _, err := t.f.ReadAt(out[i][:], x*32); err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", TreeHashesFile, durable.WithoutPath(err))
		}
	}
	return out, nil
}

// add appends the leaves of the records in lines (checkpoint lines are
// skipped) to the frontier and returns the stored hashes to write.
func (t *fileTree) add(lines []byte) {
	for len(lines) > 0 {
		i := 0
		for i < len(lines) && lines[i] != '\n' {
			i++
		}
		line := lines[:i]
		if i < len(lines) {
			i++
		}
		lines = lines[i:]
		if len(line) > 0 && !hasCheckpointPrefix(line) {
			t.buf = t.front.Append(t.buf, LeafHash(line))
		}
	}
}

func hasCheckpointPrefix(line []byte) bool {
	return len(line) >= len(checkpointPrefix) && string(line[:len(checkpointPrefix)]) == string(checkpointPrefix)
}

// flush writes the stored hashes add produced.
func (t *fileTree) flush() error {
	if len(t.buf) == 0 {
		return nil
	}
	b := t.wbuf[:0]
	for _, h := range t.buf {
		b = append(b, h[:]...)
	}
	t.wbuf = b
	t.mu.RLock()
	off := t.stored * 32
	t.mu.RUnlock()
	if _, err := t.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("audit: write %s: %w", TreeHashesFile, durable.WithoutPath(err))
	}
	t.mu.Lock()
	t.stored += int64(len(t.buf))
	t.mu.Unlock()
	t.buf = t.buf[:0]
	return nil
}

// openFileTree opens dir's tree and brings it to the log's n records:
// hashes past a consistent prefix (a crash while writing them) are cut,
// and missing ones are rebuilt from the records. A v1 log without a tree
// is upgraded the same way. It returns ErrNoTree when records needed for
// the rebuild were purged.
func openFileTree(ctx context.Context, dir string, records func(from uint64) iter.Seq2[Record, error], n uint64) (*fileTree, error) {
	f, err := os.OpenFile(filepath.Join(dir, TreeHashesFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", TreeHashesFile, durable.WithoutPath(err))
	}
	t, err := loadFileTree(ctx, f, records, n)
	if err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func loadFileTree(ctx context.Context, f *os.File, records func(from uint64) iter.Seq2[Record, error], n uint64) (*fileTree, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: stat %s: %w", TreeHashesFile, durable.WithoutPath(err))
	}
	// the largest size whose stored hashes the file holds, at most n
	lo, hi := int64(0), int64(n)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if tlog.StoredHashCount(mid)*32 <= fi.Size() {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	have := lo
	t := &fileTree{f: f, stored: tlog.StoredHashCount(have)}
	if fi.Size() != t.stored*32 {
		if err := f.Truncate(t.stored * 32); err != nil {
			return nil, fmt.Errorf("audit: truncate %s: %w", TreeHashesFile, durable.WithoutPath(err))
		}
	}
	if t.front, err = LoadFrontier(ctx, t, have); err != nil {
		return nil, err
	}
	if uint64(have) == n {
		return t, nil
	}
	next := uint64(have) + 1
	for rec, err := range records(next) {
		if err != nil {
			return nil, err
		}
		if rec.Seq != next {
			return nil, fmt.Errorf("%w: record %d needed to rebuild it is gone", ErrNoTree, next)
		}
		line, err := rec.Marshal()
		if err != nil {
			return nil, err
		}
		t.buf = t.front.Append(t.buf, LeafHash(line))
		if len(t.buf) >= 4096 {
			if err := t.flush(); err != nil {
				return nil, err
			}
		}
		if next == n {
			break
		}
		next++
	}
	if t.front.Size() != int64(n) {
		return nil, fmt.Errorf("%w: records to rebuild it are missing", ErrNoTree)
	}
	return t, t.flush()
}

// readTreeCheckpoint reads and verifies dir's newest format-v2 checkpoint;
// it returns ok false when there is none yet.
func readTreeCheckpoint(dir, stream string, keys signing.KeySet) (TreeCheckpoint, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, TreeCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return TreeCheckpoint{}, false, nil
	}
	if err != nil {
		return TreeCheckpoint{}, false, fmt.Errorf("audit: read %s: %w", TreeCheckpointFile, durable.WithoutPath(err))
	}
	c, err := ParseTreeCheckpoint(b, keys, stream)
	return c, err == nil, err
}
