package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/durable"
)

// treeOff turns tree maintenance off, for the benchmarks' before/after
// figures in one run only; nothing else sets it.
var treeOff bool

// openTree opens (rebuilding or upgrading as needed) the log's Merkle tree
// and checks it against the newest format-v2 checkpoint. A v1 log whose
// first records were purged has no tree: it keeps working and verifying as
// v1, and proofs fail with ErrNoTree.
func (l *FileLog) openTree(ctx context.Context) error {
	if treeOff {
		return nil
	}
	keys := l.trusted
	records := func(from uint64) iter.Seq2[Record, error] { return l.reader.Records(ctx, from) }
	t, err := openFileTree(ctx, l.dir, records, l.writtenSeq)
	if errors.Is(err, ErrNoTree) {
		return nil
	}
	if err != nil {
		return err
	}
	cp, ok, err := readTreeCheckpoint(l.dir, l.opts.Stream, keys)
	if err == nil && ok && cp.Size <= l.writtenSeq {
		err = checkTreeRoot(ctx, t, cp)
		if errors.Is(err, ErrTreeMismatch) {
			// stored hashes lost in a crash (the file is not synced
			// between checkpoints): rebuild them all from the records; a
			// mismatch after that is the records' own
			f := t.f
			if terr := f.Truncate(0); terr != nil {
				err = fmt.Errorf("audit: truncate %s: %w", TreeHashesFile, durable.WithoutPath(terr))
			} else if t, err = loadFileTree(ctx, f, records, l.writtenSeq); err == nil {
				err = checkTreeRoot(ctx, t, cp)
			} else {
				t = &fileTree{f: f}
			}
		}
	}
	if err != nil {
		t.f.Close()
		return err
	}
	l.tree = t
	return nil
}

// checkTreeRoot checks that t's root at cp.Size is cp's.
func checkTreeRoot(ctx context.Context, t *fileTree, cp TreeCheckpoint) error {
	root, err := TreeRoot(ctx, t, int64(cp.Size))
	if err == nil && root != cp.Root {
		err = fmt.Errorf("%w: the tree at size %d is not the signed one", ErrTreeMismatch, cp.Size)
	}
	return err
}

// maintainTree, in the flusher after the batch is durable, writes the
// tree hashes the batch added and, with a checkpoint, the format-v2
// checkpoint of the tree.
func (l *FileLog) maintainTree(seq uint64, head Hash, now time.Time, wantCP bool) error {
	if l.tree == nil {
		return nil
	}
	if l.tree.front.Size() != int64(seq) {
		return fmt.Errorf("%w: tree has %d leaves for %d records", ErrTreeMismatch, l.tree.front.Size(), seq)
	}
	if err := l.tree.flush(); err != nil {
		return err
	}
	if !wantCP {
		return nil
	}
	// the hashes a signed checkpoint covers are made durable with it
	if err := fdatasync(l.tree.f); err != nil {
		return fmt.Errorf("audit: sync %s: %w", TreeHashesFile, durable.WithoutPath(err))
	}
	cp := TreeCheckpoint{Stream: l.opts.Stream, Size: seq, Root: l.tree.front.Root(), Head: head, Time: now}
	if err := SignTreeCheckpoint(&cp, l.opts.Signer); err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(filepath.Join(l.dir, TreeCheckpointFile), cp.Note, 0o600); err != nil {
		return fmt.Errorf("audit: write %s: %w", TreeCheckpointFile, durable.WithoutPath(err))
	}
	return nil
}
