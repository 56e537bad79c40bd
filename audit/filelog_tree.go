package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"time"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
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
	keys, err := signing.NewKeySet(append([]ed25519.PublicKey{l.pub}, l.opts.PreviousKeys...)...)
	if err != nil {
		return fmt.Errorf("audit: checkpoint keys: %w", err)
	}
	l.treeKeys = keys
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
		root, rerr := TreeRoot(ctx, t, int64(cp.Size))
		if rerr == nil && root != cp.Root {
			rerr = fmt.Errorf("%w: the tree at size %d is not the signed one", ErrTreeMismatch, cp.Size)
		}
		err = rerr
	}
	if err != nil {
		t.f.Close()
		return err
	}
	l.tree = t
	return nil
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
	cp := TreeCheckpoint{Stream: l.opts.Stream, Size: seq, Root: l.tree.front.Root(), Head: head, Time: now}
	if err := SignTreeCheckpoint(&cp, l.opts.Signer); err != nil {
		return err
	}
	if err := durable.WriteFileAtomic(filepath.Join(l.dir, TreeCheckpointFile), cp.Note, 0o600); err != nil {
		return fmt.Errorf("audit: write %s: %w", TreeCheckpointFile, durable.WithoutPath(err))
	}
	return nil
}
