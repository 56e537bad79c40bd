package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/audit"
)

// checkpoint returns the verified checkpoint at the end of u.
func (a *Archive) checkpoint(ctx context.Context, u Unit) (audit.TreeCheckpoint, error) {
	b, err := a.cfg.Target.Get(ctx, streamDir(u.Stream)+checkpointName(u.Last))
	if errors.Is(err, ErrNotFound) {
		return audit.TreeCheckpoint{}, fmt.Errorf("%w: stream %s: the checkpoint at %d is missing", ErrDamaged, u.Stream, u.Last)
	}
	if err != nil {
		return audit.TreeCheckpoint{}, err
	}
	cp, err := a.verifier.Checkpoint(b, u.Stream)
	if err != nil {
		return audit.TreeCheckpoint{}, err
	}
	if cp.Size != u.Last {
		return audit.TreeCheckpoint{}, fmt.Errorf("%w: stream %s: the checkpoint at %d covers %d", ErrDamaged, u.Stream, u.Last, cp.Size)
	}
	return cp, nil
}

// segment returns u's segment bytes, checked against its manifest.
func (a *Archive) segment(ctx context.Context, u Unit) ([]byte, error) {
	b, err := a.cfg.Target.Get(ctx, streamDir(u.Stream)+segmentObject(u.First))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: stream %s: the segment from %d is missing", ErrDamaged, u.Stream, u.First)
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != u.SHA256 {
		return nil, fmt.Errorf("%w: stream %s: the segment from %d is not the one archived", ErrDamaged, u.Stream, u.First)
	}
	return b, nil
}

// newest returns stream's units and the checkpoint of the last one.
func (a *Archive) newest(ctx context.Context, stream string) ([]Unit, audit.TreeCheckpoint, error) {
	units, err := a.Units(ctx, stream)
	if err != nil {
		return nil, audit.TreeCheckpoint{}, err
	}
	if len(units) == 0 {
		return nil, audit.TreeCheckpoint{}, fmt.Errorf("%w: stream %s has no archived records", audit.ErrNoTree, stream)
	}
	cp, err := a.checkpoint(ctx, units[len(units)-1])
	return units, cp, err
}

// records yields the records of units from seq from on; each unit's
// records must be the leaves of the tree in store (verified against the
// newest checkpoint), so what is read is what the log signed.
func (a *Archive) records(ctx context.Context, units []Unit, store audit.TreeStore, from uint64) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		for _, u := range units {
			if u.Last < from {
				continue
			}
			b, err := a.segment(ctx, u)
			if err != nil {
				yield(audit.Record{}, err)
				return
			}
			recs, err := segmentRecords(b, u.Stream)
			if err == nil {
				err = checkLeaves(ctx, store, u, recs)
			}
			if err != nil {
				yield(audit.Record{}, err)
				return
			}
			for _, r := range recs {
				if r.Seq >= from && !yield(r, nil) {
					return
				}
			}
		}
	}
}

// checkLeaves checks that recs are records u.First..u.Last and that their
// leaves are the tree's.
func checkLeaves(ctx context.Context, store audit.TreeStore, u Unit, recs []audit.Record) error {
	if len(recs) == 0 || recs[0].Seq != u.First || recs[len(recs)-1].Seq != u.Last || uint64(len(recs)) != u.Last-u.First+1 {
		return fmt.Errorf("%w: stream %s: the segment from %d does not hold records %d-%d", ErrDamaged, u.Stream, u.First, u.First, u.Last)
	}
	idx := make([]int64, len(recs))
	for i, r := range recs {
		idx[i] = storedLeafIndex(int64(r.Seq - 1))
	}
	leaves, err := store.ReadHashes(ctx, idx)
	if err != nil {
		return err
	}
	for i, r := range recs {
		line, err := r.Marshal()
		if err != nil {
			return err
		}
		if h, err := r.ComputeHash(); err != nil || h != r.Hash || audit.LeafHash(line) != leaves[i] {
			return fmt.Errorf("%w: stream %s: record %d is not the log's", audit.ErrTreeMismatch, u.Stream, r.Seq)
		}
	}
	return nil
}

// Records yields stream's archived records from seq from on, in order,
// each checked against the archive's newest signed checkpoint (its leaf in
// the verified tree tiles) before it is yielded.
func (a *Archive) Records(ctx context.Context, stream string, from uint64) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		units, cp, err := a.newest(ctx, stream)
		if err != nil {
			yield(audit.Record{}, err)
			return
		}
		for r, err := range a.records(ctx, units, newTileStore(ctx, a.cfg.Target, streamDir(stream), cp), from) {
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// Searcher returns an audit.Searcher over stream's archived records
// (Records), so that audit.Query, Export and accounting of disclosures
// read archived ranges.
func (a *Archive) Searcher(stream string) audit.Searcher {
	return audit.ScanSearcher(func(ctx context.Context) iter.Seq2[audit.Record, error] { return a.Records(ctx, stream, 1) })
}

// Result summarizes a verified stream of the archive.
type Result struct {
	Stream      string
	First, Last uint64 // the first and last archived records
	Units       int
	Checkpoint  audit.TreeCheckpoint // the newest, at Last
}

// Verify checks stream's archive on its own, with only the keys: the units
// follow each other; each segment is the one archived; every checkpoint is
// signed by a key of Config.Keys; the tree rebuilt from the records matches
// the tiles and every checkpoint's root (so each checkpoint extends the one
// before: consistency); and the hash chain with its signed v1 checkpoints
// verifies (audit.Verify, a start after a purge allowed).
func (a *Archive) Verify(ctx context.Context, stream string) (Result, error) {
	return a.verify(ctx, stream)
}

// verify is Verify, also checking that the archive extends the kept
// checkpoints (audit.ErrNotExtended).
func (a *Archive) verify(ctx context.Context, stream string, kept ...audit.TreeCheckpoint) (Result, error) {
	units, newest, err := a.newest(ctx, stream)
	if err != nil {
		return Result{}, err
	}
	cps := make([]audit.TreeCheckpoint, 0, len(units))
	for _, u := range units {
		cp, err := a.checkpoint(ctx, u)
		if err != nil {
			return Result{}, err
		}
		cps = append(cps, cp)
	}
	store := newTileStore(ctx, a.cfg.Target, streamDir(stream), newest)
	chain := audit.NewVerifier(audit.VerifyOptions{Keys: a.cfg.Keys, AllowUnanchoredStart: true})
	records := func(yield func(audit.Record, error) bool) {
		for _, u := range units {
			b, err := a.segment(ctx, u)
			if err != nil {
				yield(audit.Record{}, err)
				return
			}
			for line := range bytes.SplitSeq(b, []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				e, err := audit.ParseLine(line)
				if err != nil {
					yield(audit.Record{}, fmt.Errorf("%w: stream %s, segment from %d: %w", ErrDamaged, stream, u.First, err))
					return
				}
				if e.Record != nil {
					err = chain.Record(e.Record)
				} else {
					err = chain.Checkpoint(e.Checkpoint)
				}
				if err != nil {
					yield(audit.Record{}, err)
					return
				}
				if e.Record != nil && !yield(*e.Record, nil) {
					return
				}
			}
		}
	}
	n, err := audit.CheckTree(ctx, records, store, append(cps, kept...)...)
	if err != nil {
		return Result{}, err
	}
	if n != newest.Size {
		return Result{}, fmt.Errorf("%w: stream %s: %d records, the newest checkpoint covers %d", ErrDamaged, stream, n, newest.Size)
	}
	if _, err := chain.Finish(); err != nil {
		return Result{}, err
	}
	return Result{Stream: stream, First: units[0].First, Last: newest.Size, Units: len(units), Checkpoint: newest}, nil
}

// storedLeafIndex is the stored-hash index of leaf i.
func storedLeafIndex(i int64) int64 { return tlog.StoredHashIndex(0, i) }
