package pgaudit

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/signing"
)

// ArchiveSource returns the audit/archive Source of one stream stored in
// PostgreSQL. Its ranges are months: each ends at the stream's last signed
// v1 checkpoint of a UTC month (by the checkpoint's time) that a checkpoint
// of a later month follows, so that a range is no longer written, and its
// records were all written by that checkpoint's time. A range's bytes are
// its record lines in order with the stream's v1 checkpoint lines after the
// records they cover, starting (after the first) with the checkpoint that
// ended the range before: the same for every process reading the same
// database, so several archivers of one stream store the same objects.
func ArchiveSource(pool *pgxpool.Pool, stream string) archive.Source {
	return archiveSource{pool: pool, stream: stream}
}

type archiveSource struct {
	pool   *pgxpool.Pool
	stream string
}

func (s archiveSource) Prover(keys signing.KeySet) audit.Prover {
	return NewProver(s.pool, s.stream, keys)
}

func (s archiveSource) WithTreeStore(_ context.Context, fn func(audit.TreeStore) error) error {
	return fn(treeStore{q: s.pool, stream: s.stream})
}

// Sealed implements archive.Source.
func (s archiveSource) Sealed(ctx context.Context, keys signing.KeySet) ([]audit.SealedSegment, error) {
	cps, err := s.checkpoints(ctx, keys, 0, audit.MaxSeq)
	if err != nil {
		return nil, err
	}
	var first int64
	err = s.pool.QueryRow(ctx, "SELECT coalesce(min(seq), 0) FROM hipaakit_audit_records WHERE stream = $1", s.stream).Scan(&first)
	if err != nil {
		return nil, dbErr("read records", err)
	}
	if first == 0 {
		return nil, nil
	}
	start := uint64(first) // the first record of the next range
	if start > 1 {
		// after a purge: ranges start after a signed checkpoint
		i := 0
		for i < len(cps) && cps[i].Seq < start-1 {
			i++
		}
		if i == len(cps) {
			return nil, nil
		}
		start, cps = cps[i].Seq+1, cps[i:]
	}
	var out []audit.SealedSegment
	for i, c := range cps {
		if i+1 == len(cps) || c.Seq < start {
			continue
		}
		if month(cps[i+1].Time) == month(c.Time) {
			continue // not the last checkpoint of its month
		}
		out = append(out, audit.SealedSegment{SegmentInfo: audit.SegmentInfo{Name: fmt.Sprintf("%s-%020d", s.stream, start), FirstSeq: start},
			LastSeq: c.Seq, WrittenBy: c.Time})
		start = c.Seq + 1
	}
	return out, nil
}

func month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// checkpoints returns the stream's v1 checkpoints with seq in [from, to],
// in seq order, each verified with keys.
func (s archiveSource) checkpoints(ctx context.Context, keys signing.KeySet, from, to uint64) ([]audit.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, "SELECT line FROM hipaakit_audit_checkpoints WHERE stream = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
		s.stream, int64(from), int64(to))
	if err != nil {
		return nil, dbErr("read checkpoints", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			return nil, dbErr("read checkpoints", err)
		}
		c, err := audit.ParseCheckpoint(line)
		if err != nil {
			return nil, err
		}
		if keys.Len() > 0 && (c.Stream != s.stream || c.Verify(keys.Keys()...) != nil) {
			return nil, &audit.VerifyError{Stream: s.stream, Seq: c.Seq, Problem: audit.ProblemSignature, Err: audit.ErrBadSignature}
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read checkpoints", err)
	}
	return out, nil
}

// Read implements archive.Source.
func (s archiveSource) Read(ctx context.Context, seg audit.SealedSegment) ([]byte, error) {
	tx, err := s.pool.BeginTx(ctx, snapshotTx)
	if err != nil {
		return nil, dbErr("begin", err)
	}
	defer tx.Rollback(ctx)
	cpLines := map[uint64][][]byte{}
	rows, err := tx.Query(ctx, "SELECT seq, line FROM hipaakit_audit_checkpoints WHERE stream = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq, line",
		s.stream, int64(seg.FirstSeq-1), int64(seg.LastSeq))
	if err != nil {
		return nil, dbErr("read checkpoints", err)
	}
	for rows.Next() {
		var seq int64
		var line []byte
		if err := rows.Scan(&seq, &line); err != nil {
			rows.Close()
			return nil, dbErr("read checkpoints", err)
		}
		cpLines[uint64(seq)] = append(cpLines[uint64(seq)], line)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr("read checkpoints", err)
	}
	var b bytes.Buffer
	put := func(line []byte) {
		b.Write(bytes.TrimSuffix(line, []byte("\n")))
		b.WriteByte('\n')
	}
	if seg.FirstSeq > 1 {
		ls := cpLines[seg.FirstSeq-1]
		if len(ls) == 0 {
			return nil, fmt.Errorf("%w: pgaudit: stream %s has no checkpoint before record %d", audit.ErrTruncated, s.stream, seg.FirstSeq)
		}
		put(ls[len(ls)-1])
	}
	next := seg.FirstSeq
	for rec, err := range records(ctx, tx, s.stream, seg.FirstSeq) {
		if err != nil {
			return nil, err
		}
		if rec.Seq != next {
			return nil, fmt.Errorf("%w: pgaudit: stream %s: record %d follows %d", audit.ErrChainBroken, s.stream, rec.Seq, next-1)
		}
		line, err := rec.Marshal()
		if err != nil {
			return nil, err
		}
		put(line)
		for _, l := range cpLines[rec.Seq] {
			put(l)
		}
		if rec.Seq == seg.LastSeq {
			return b.Bytes(), nil
		}
		next++
	}
	return nil, fmt.Errorf("%w: pgaudit: stream %s ends before record %d", audit.ErrTruncated, s.stream, seg.LastSeq)
}
