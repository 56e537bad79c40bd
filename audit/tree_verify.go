package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

// Prover is a trail whose stream carries a Merkle tree: it proves that one
// record is in the log and that the log extends a checkpoint. FileReader
// (for a file log) and pgaudit's Prover implement it. It is separate from
// Trail so that trails without trees stay Trails.
type Prover interface {
	// TreeCheckpoint returns the stream's newest format-v2 checkpoint,
	// verified with the prover's keys.
	TreeCheckpoint(ctx context.Context) (TreeCheckpoint, error)
	// ProveInclusion proves record seq against the newest checkpoint.
	ProveInclusion(ctx context.Context, seq uint64) (InclusionProof, error)
	// ProveConsistency proves that newer's tree extends older's.
	ProveConsistency(ctx context.Context, older, newer TreeCheckpoint) ([]Hash, error)
	// VerifySince rebuilds the tree from the records and checks that the
	// log extends each kept checkpoint (ErrNotExtended) and matches its own
	// newest one (ErrTreeMismatch). It returns the newest checkpoint.
	VerifySince(ctx context.Context, kept ...TreeCheckpoint) (TreeCheckpoint, error)
}

// CheckTree rebuilds a stream's tree from its records (in seq order) and
// checks it against checkpoints: a checkpoint past the last record, or
// whose root or head differs from the records', fails with ErrNotExtended.
// Records before the first one yielded (purged) come from stored, whose
// frontier there is trusted; stored's root at the last record must match
// the rebuilt one (ErrTreeMismatch), so damaged stored hashes are found.
// It returns the number of records.
func CheckTree(ctx context.Context, records iter.Seq2[Record, error], stored TreeStore, cps ...TreeCheckpoint) (uint64, error) {
	var front *Frontier
	var n uint64
	var pending []Hash // rebuilt stored hashes not yet compared with stored
	var pendingAt int64
	compare := func() error {
		if stored == nil || len(pending) == 0 {
			return nil
		}
		idx := make([]int64, len(pending))
		for i := range idx {
			idx[i] = pendingAt + int64(i)
		}
		got, err := stored.ReadHashes(ctx, idx)
		if errors.Is(err, ErrNoTree) {
			stored = nil // a v1 log being upgraded: nothing stored to compare
			return nil
		}
		if err != nil {
			return err
		}
		for i := range got {
			if got[i] != pending[i] {
				return fmt.Errorf("%w: stored hash %d differs from the records", ErrTreeMismatch, idx[i])
			}
		}
		pendingAt += int64(len(pending))
		pending = pending[:0]
		return nil
	}
	check := func(c TreeCheckpoint, root, head Hash) error {
		if root != c.Root || head != c.Head {
			return fmt.Errorf("%w: stream %s at size %d has another root", ErrNotExtended, c.Stream, c.Size)
		}
		return nil
	}
	for rec, err := range records {
		if err != nil {
			return 0, err
		}
		for _, c := range cps {
			if rec.Stream != c.Stream {
				return 0, &StreamMismatchError{Want: c.Stream, Got: rec.Stream}
			}
		}
		if front == nil {
			if rec.Seq > 1 {
				if stored == nil {
					return 0, ErrNoTree
				}
				if front, err = LoadFrontier(ctx, stored, int64(rec.Seq-1)); err != nil {
					return 0, err
				}
				for _, c := range cps {
					if c.Size < rec.Seq {
						root, err := TreeRoot(ctx, stored, int64(c.Size))
						if err != nil {
							return 0, err
						}
						if root != c.Root {
							return 0, fmt.Errorf("%w: stream %s at size %d has another root", ErrNotExtended, c.Stream, c.Size)
						}
					}
				}
			} else {
				front = &Frontier{}
			}
			pendingAt = tlog.StoredHashCount(front.Size())
		}
		if rec.Seq != uint64(front.Size())+1 {
			return 0, fmt.Errorf("%w: record %d follows %d", ErrChainBroken, rec.Seq, front.Size())
		}
		line, err := rec.Marshal()
		if err != nil {
			return 0, err
		}
		pending = front.Append(pending, LeafHash(line))
		if len(pending) >= 4096 {
			if err := compare(); err != nil {
				return 0, err
			}
		}
		n = rec.Seq
		for _, c := range cps {
			if c.Size == n {
				if err := check(c, front.Root(), rec.Hash); err != nil {
					return 0, err
				}
			}
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
	if err := compare(); err != nil {
		return 0, err
	}
	for _, c := range cps {
		if c.Size > n {
			return 0, fmt.Errorf("%w: stream %s has %d records, the checkpoint covers %d", ErrNotExtended, c.Stream, n, c.Size)
		}
		if c.Size == 0 && c.Root != emptyRoot {
			return 0, fmt.Errorf("%w: size 0 with a non-empty root", ErrNotExtended)
		}
	}
	if stored != nil && front != nil {
		root, err := TreeRoot(ctx, stored, int64(n))
		if err != nil && !errors.Is(err, ErrNoTree) {
			return 0, err
		}
		if err == nil && root != front.Root() {
			return 0, fmt.Errorf("%w: stored hashes at size %d differ from the records", ErrTreeMismatch, n)
		}
	}
	return n, nil
}

// treeReader reads a file log's stored hashes without writing them.
type treeReader struct{ f *os.File }

func (t treeReader) ReadHashes(_ context.Context, idx []int64) ([]Hash, error) {
	out := make([]Hash, len(idx))
	for i, x := range idx {
		if x < 0 {
			return nil, fmt.Errorf("%w: hash %d not stored", ErrNoTree, x)
		}
		if n, err := t.f.ReadAt(out[i][:], x*32); n != 32 {
			if err == nil {
				err = errors.New("short read")
			}
			return nil, fmt.Errorf("%w: hash %d not stored", ErrNoTree, x)
		}
	}
	return out, nil
}

// FileProver is the Prover of a file log directory; it only reads.
type FileProver struct {
	r    *FileReader
	keys signing.KeySet
}

var _ Prover = (*FileProver)(nil)

// Prover returns the Prover of r's directory, trusting checkpoints signed
// by keys.
func (r *FileReader) Prover(keys signing.KeySet) *FileProver { return &FileProver{r: r, keys: keys} }

func (p *FileProver) withTree(fn func(TreeStore) error) error {
	f, err := os.Open(filepath.Join(p.r.dir, TreeHashesFile))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoTree
	}
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", TreeHashesFile, durable.WithoutPath(err))
	}
	defer f.Close()
	return fn(treeReader{f})
}

// TreeCheckpoint implements Prover.
func (p *FileProver) TreeCheckpoint(_ context.Context) (TreeCheckpoint, error) {
	c, ok, err := readTreeCheckpoint(p.r.dir, "", p.keys)
	if err == nil && !ok {
		err = ErrNoTree
	}
	return c, err
}

// ProveInclusion implements Prover.
func (p *FileProver) ProveInclusion(ctx context.Context, seq uint64) (InclusionProof, error) {
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil {
		return InclusionProof{}, err
	}
	if seq == 0 || seq > cp.Size {
		return InclusionProof{}, fmt.Errorf("%w: record %d is not covered by the checkpoint of size %d", ErrTreeMismatch, seq, cp.Size)
	}
	var rec Record
	found := false
	for r, err := range p.r.Records(ctx, seq) {
		if err != nil {
			return InclusionProof{}, err
		}
		rec, found = r, r.Seq == seq
		break
	}
	if !found {
		return InclusionProof{}, fmt.Errorf("%w: record %d is not in the log", ErrNoTree, seq)
	}
	var proof InclusionProof
	err = p.withTree(func(s TreeStore) error {
		proof, err = ProveInclusion(ctx, s, rec, cp)
		return err
	})
	return proof, err
}

// ProveConsistency implements Prover.
func (p *FileProver) ProveConsistency(ctx context.Context, older, newer TreeCheckpoint) ([]Hash, error) {
	var proof []Hash
	err := p.withTree(func(s TreeStore) (err error) {
		proof, err = ProveConsistency(ctx, s, older, newer)
		return err
	})
	return proof, err
}

// VerifySince implements Prover.
func (p *FileProver) VerifySince(ctx context.Context, kept ...TreeCheckpoint) (TreeCheckpoint, error) {
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil {
		return TreeCheckpoint{}, err
	}
	err = p.withTree(func(s TreeStore) error {
		_, err := CheckTree(ctx, p.r.Records(ctx, 1), s, append([]TreeCheckpoint{cp}, kept...)...)
		return err
	})
	if errors.Is(err, ErrNotExtended) && len(kept) == 0 {
		err = fmt.Errorf("%w: %w", ErrTreeMismatch, err)
	}
	return cp, err
}
