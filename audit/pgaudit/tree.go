package pgaudit

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/signing"
)

// insertTreeCheckpointSQL stores a format-v2 checkpoint under the same
// condition.
const insertTreeCheckpointSQL = `INSERT INTO hipaakit_audit_tree_checkpoints (stream, size, note)
	SELECT $1, $2, $3 WHERE EXISTS (
		SELECT 1 FROM hipaakit_audit_streams WHERE stream = $1 AND owner = $4 AND last_seq = $2 AND head = $5)`

// readTreeSQL reads the stored hashes at indexes $2: each from the row
// whose range holds it.
const readTreeSQL = `SELECT q.x, substring(t.hashes FROM (q.x - t.first_idx)::integer * 32 + 1 FOR 32)
	FROM unnest($2::bigint[]) AS q(x)
	CROSS JOIN LATERAL (SELECT first_idx, hashes FROM hipaakit_audit_tree
		WHERE stream = $1 AND first_idx <= q.x ORDER BY first_idx DESC LIMIT 1) t
	WHERE q.x < t.first_idx + length(t.hashes) / 32`

// treeStore reads one stream's stored hashes.
type treeStore struct {
	q      querier
	stream string
}

// ReadHashes implements audit.TreeStore.
func (s treeStore) ReadHashes(ctx context.Context, idx []int64) ([]audit.Hash, error) {
	rows, err := s.q.Query(ctx, readTreeSQL, s.stream, idx)
	if err != nil {
		return nil, dbErr("read tree", err)
	}
	got := make(map[int64]audit.Hash, len(idx))
	for rows.Next() {
		var i int64
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			rows.Close()
			return nil, dbErr("read tree", err)
		}
		if len(h) != 32 {
			rows.Close()
			return nil, fmt.Errorf("%w: pgaudit: tree hash %d is not 32 bytes", audit.ErrTreeMismatch, i)
		}
		got[i] = audit.Hash(h)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read tree", err)
	}
	out := make([]audit.Hash, len(idx))
	for k, i := range idx {
		h, ok := got[i]
		if !ok {
			return nil, fmt.Errorf("%w: pgaudit: stream %s tree hash %d not stored", audit.ErrNoTree, s.stream, i)
		}
		out[k] = h
	}
	return out, nil
}

// records yields a stream's records from seq from, in order.
func records(ctx context.Context, q querier, stream string, from uint64) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		rows, err := q.Query(ctx, "SELECT line FROM hipaakit_audit_records WHERE stream = $1 AND seq >= $2 ORDER BY seq", stream, int64(from))
		if err != nil {
			yield(audit.Record{}, dbErr("read records", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var line []byte
			if err := rows.Scan(&line); err != nil {
				yield(audit.Record{}, dbErr("read records", err))
				return
			}
			r, err := audit.ParseRecord(line)
			if err == nil && r.Stream != stream {
				err = &audit.StreamMismatchError{Want: stream, Got: r.Stream}
			}
			if !yield(r, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(audit.Record{}, dbErr("read records", err))
		}
	}
}

// treeOff turns tree maintenance off, for the benchmarks' before/after
// figures in one run only; nothing else sets it.
var treeOff bool

// openTree loads the frontier of the stream's tree at seq, rebuilding and
// storing missing hashes from the records (a stream written before schema
// version 3). A stream whose first records were purged before it had a tree
// has none: the writer keeps writing without one.
func (w *streamWriter) openTree(ctx context.Context, seq uint64) error {
	if treeOff {
		return nil
	}
	var count int64
	if err := w.pool.QueryRow(ctx, `SELECT coalesce((SELECT first_idx + length(hashes) / 32 FROM hipaakit_audit_tree
		WHERE stream = $1 ORDER BY first_idx DESC LIMIT 1), 0)`, w.opts.Stream).Scan(&count); err != nil {
		return dbErr("read tree", err)
	}
	// the largest size whose hashes are all stored
	lo, hi := int64(0), int64(seq)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if tlog.StoredHashCount(mid) <= count {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	store := treeStore{q: w.pool, stream: w.opts.Stream}
	front, err := audit.LoadFrontier(ctx, store, lo)
	if err != nil {
		return err
	}
	if uint64(lo) < seq {
		if front, err = w.rebuildTree(ctx, front, seq); errors.Is(err, audit.ErrNoTree) {
			w.tree = nil
			return nil
		} else if err != nil {
			return err
		}
	}
	w.tree = front
	return nil
}

func (w *streamWriter) rebuildTree(ctx context.Context, front *audit.Frontier, seq uint64) (*audit.Frontier, error) {
	first := tlog.StoredHashCount(front.Size())
	var hs []byte
	flush := func() error {
		if len(hs) == 0 {
			return nil
		}
		_, err := w.pool.Exec(ctx, `INSERT INTO hipaakit_audit_tree (stream, first_idx, hashes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			w.opts.Stream, first, hs)
		first += int64(len(hs) / 32)
		hs = hs[:0]
		if err != nil {
			return dbErr("rebuild tree", err)
		}
		return nil
	}
	next := uint64(front.Size()) + 1
	var buf []audit.Hash
	for rec, err := range records(ctx, w.pool, w.opts.Stream, next) {
		if err != nil {
			return nil, err
		}
		if rec.Seq != next {
			return nil, audit.ErrNoTree
		}
		line, err := rec.Marshal()
		if err != nil {
			return nil, err
		}
		buf = front.Append(buf[:0], audit.LeafHash(line))
		for _, h := range buf {
			hs = append(hs, h[:]...)
		}
		if len(hs) >= 4096*32 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if next == seq {
			break
		}
		next++
	}
	if uint64(front.Size()) != seq {
		return nil, audit.ErrNoTree
	}
	return front, flush()
}

// treeUpdate is what a commit adds to the stream's tree: the stored
// hashes from index at, the signed format-v2 checkpoint when the commit
// signs one, and the frontier after the commit, which becomes the writer's
// once the commit succeeds.
type treeUpdate struct {
	at     int64
	hashes []byte
	note   []byte
	front  *audit.Frontier
}

// treeUpdate computes the batch's tree update (nil without a tree); with
// cp it signs the format-v2 checkpoint of the same size and time.
func (w *streamWriter) treeUpdate(oldSeq, newSeq uint64, newHead audit.Hash, cp *audit.Checkpoint) (*treeUpdate, error) {
	if w.tree == nil {
		return nil, nil
	}
	front := w.tree.Clone()
	if uint64(front.Size()) != oldSeq {
		return nil, fmt.Errorf("%w: pgaudit: tree has %d leaves for %d records", audit.ErrTreeMismatch, front.Size(), oldSeq)
	}
	u := &treeUpdate{at: tlog.StoredHashCount(front.Size()), front: front}
	w.treeBuf = w.treeBuf[:0]
	for _, line := range w.b.line {
		w.treeBuf = front.Append(w.treeBuf, audit.LeafHash(line))
	}
	if len(w.treeBuf) > 0 {
		u.hashes = make([]byte, 0, 32*len(w.treeBuf))
		for _, h := range w.treeBuf {
			u.hashes = append(u.hashes, h[:]...)
		}
	}
	if cp != nil {
		tc := audit.TreeCheckpoint{Stream: w.opts.Stream, Size: newSeq, Root: front.Root(), Head: newHead, Time: cp.Time}
		if err := audit.SignTreeCheckpoint(&tc, w.opts.Signer); err != nil {
			return nil, fmt.Errorf("pgaudit: sign checkpoint: %w", err)
		}
		u.note = tc.Note
	}
	return u, nil
}

// Prover proves inclusion and consistency for one stream stored in
// PostgreSQL (audit.Prover). It only reads.
type Prover struct {
	pool   *pgxpool.Pool
	stream string
	keys   signing.KeySet
}

var _ audit.Prover = (*Prover)(nil)

// NewProver returns the Prover of stream, trusting checkpoints signed by
// keys.
func NewProver(pool *pgxpool.Pool, stream string, keys signing.KeySet) *Prover {
	return &Prover{pool: pool, stream: stream, keys: keys}
}

// TreeStore returns the stream's stored tree hashes.
func (p *Prover) TreeStore() audit.TreeStore { return treeStore{q: p.pool, stream: p.stream} }

// TreeCheckpoint implements audit.Prover.
func (p *Prover) TreeCheckpoint(ctx context.Context) (audit.TreeCheckpoint, error) {
	var note []byte
	err := p.pool.QueryRow(ctx, "SELECT note FROM hipaakit_audit_tree_checkpoints WHERE stream = $1 ORDER BY size DESC LIMIT 1", p.stream).Scan(&note)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.TreeCheckpoint{}, fmt.Errorf("%w: pgaudit: stream %s has no format-v2 checkpoint", audit.ErrNoTree, p.stream)
	}
	if err != nil {
		return audit.TreeCheckpoint{}, dbErr("read checkpoint", err)
	}
	return audit.ParseTreeCheckpoint(note, p.keys, p.stream)
}

// ProveInclusion implements audit.Prover.
func (p *Prover) ProveInclusion(ctx context.Context, seq uint64) (audit.InclusionProof, error) {
	cp, err := p.TreeCheckpoint(ctx)
	if err != nil {
		return audit.InclusionProof{}, err
	}
	var line []byte
	err = p.pool.QueryRow(ctx, "SELECT line FROM hipaakit_audit_records WHERE stream = $1 AND seq = $2", p.stream, int64(seq)).Scan(&line)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.InclusionProof{}, fmt.Errorf("%w: pgaudit: stream %s has no record %d", audit.ErrNoTree, p.stream, seq)
	}
	if err != nil {
		return audit.InclusionProof{}, dbErr("read record", err)
	}
	rec, err := audit.ParseRecord(line)
	if err != nil {
		return audit.InclusionProof{}, err
	}
	return audit.ProveInclusion(ctx, p.TreeStore(), rec, cp)
}

// ProveConsistency implements audit.Prover.
func (p *Prover) ProveConsistency(ctx context.Context, older, newer audit.TreeCheckpoint) ([]audit.Hash, error) {
	return audit.ProveConsistency(ctx, p.TreeStore(), older, newer)
}

// VerifySince implements audit.Prover: it rebuilds the stream's tree from
// its records in one REPEATABLE READ snapshot.
func (p *Prover) VerifySince(ctx context.Context, kept ...audit.TreeCheckpoint) (audit.TreeCheckpoint, error) {
	tx, err := p.pool.BeginTx(ctx, snapshotTx)
	if err != nil {
		return audit.TreeCheckpoint{}, dbErr("begin", err)
	}
	defer tx.Rollback(ctx)
	var note []byte
	var cps []audit.TreeCheckpoint
	var cp audit.TreeCheckpoint
	err = tx.QueryRow(ctx, "SELECT note FROM hipaakit_audit_tree_checkpoints WHERE stream = $1 ORDER BY size DESC LIMIT 1", p.stream).Scan(&note)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if len(kept) == 0 {
			return audit.TreeCheckpoint{}, fmt.Errorf("%w: pgaudit: stream %s has no format-v2 checkpoint", audit.ErrNoTree, p.stream)
		}
	case err != nil:
		return audit.TreeCheckpoint{}, dbErr("read checkpoint", err)
	default:
		if cp, err = audit.ParseTreeCheckpoint(note, p.keys, p.stream); err != nil {
			return audit.TreeCheckpoint{}, err
		}
		cps = append(cps, cp)
	}
	if _, err := audit.CheckTree(ctx, records(ctx, tx, p.stream, 1), treeStore{q: tx, stream: p.stream}, append(cps, kept...)...); err != nil {
		if errors.Is(err, audit.ErrNotExtended) && len(kept) == 0 {
			err = fmt.Errorf("%w: %w", audit.ErrTreeMismatch, err)
		}
		return cp, err
	}
	return cp, nil
}
