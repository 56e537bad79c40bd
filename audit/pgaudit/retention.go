package pgaudit

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// PurgeOptions configure Purge.
type PurgeOptions struct {
	// Retention is how long records are kept, counted from when they were
	// written (logged_at, never the caller's Event.Time); zero means six
	// calendar years (audit.SixYearsAfter), the documentation retention of
	// 45 CFR 164.316(b)(2). A partition is dropped only when every record
	// of its month has passed Retention, by the application's clock and by
	// the database's. A Retention shorter than six calendar years is
	// refused (audit.ErrRetentionTooShort) unless
	// AllowRetentionBelowSixYears is set.
	Retention time.Duration
	// AllowRetentionBelowSixYears accepts a Retention shorter than six
	// calendar years: only for tests and trails that are not the HIPAA
	// audit trail.
	AllowRetentionBelowSixYears bool
	// Signer signs the anchor checkpoints at the boundary; it must be an
	// ed25519 key trusted by whoever verifies the trail. Required.
	Signer crypto.Signer
	// CheckpointSink, if set, receives the anchor checkpoints after commit.
	CheckpointSink audit.CheckpointSink
	// DryRun computes the plan and changes nothing.
	DryRun bool
	// Clock gives the current time (default the system clock).
	Clock clock.Clock
}

// Boundary is where a purge cut one stream: records up to Seq (whose hash
// is Head) are gone, an anchor checkpoint states (Seq, Head), and record
// PurgeSeq is the retention_purge record appended to the stream.
type Boundary struct {
	Stream   string
	Seq      uint64
	Head     audit.Hash
	PurgeSeq uint64
}

// PurgeResult says what a purge removed (or, for a dry run, would remove).
type PurgeResult struct {
	Cutoff     time.Time
	Partitions []string // dropped partitions, oldest first
	// Kept names the oldest partition that ended before Cutoff but was kept
	// because a legal hold covers it, if any; no newer partition is dropped
	// either, so that every stream keeps a contiguous chain.
	Kept       string
	Boundaries []Boundary
}

// Purge drops the oldest monthly partitions that ended more than the
// retention ago and are not under a legal hold, through the SQL function
// hipaakit_audit_purge, in one transaction that also, for every stream that
// loses records, stores a signed anchor checkpoint at the boundary and
// appends a retention_purge record (attribute audit.AttrPurgedThrough) to
// the stream, so that the remaining trail verifies. Only a contiguous run
// of the oldest partitions is dropped: a held partition stops the purge
// there. A live writer of an affected stream continues after the appended
// record on its next commit.
func Purge(ctx context.Context, pool *pgxpool.Pool, opts PurgeOptions) (PurgeResult, error) {
	if opts.Retention < 0 {
		return PurgeResult{}, errors.Join(ErrOptions, errors.New("pgaudit: negative retention"))
	}
	if opts.Signer == nil {
		return PurgeResult{}, errors.Join(ErrOptions, errors.New("pgaudit: purge needs a Signer for the anchor checkpoints"))
	}
	if _, ok := opts.Signer.Public().(ed25519.PublicKey); !ok {
		return PurgeResult{}, errors.Join(ErrOptions, errors.New("pgaudit: Signer must be an ed25519 key"))
	}
	clk := clock.OrSystem(opts.Clock)
	now := clk.Now().UTC().Round(0)
	if err := audit.CheckRetention(opts.Retention, opts.AllowRetentionBelowSixYears, now); err != nil {
		return PurgeResult{}, errors.Join(ErrOptions, err)
	}
	res := PurgeResult{Cutoff: now.AddDate(-audit.DefaultRetentionYears, 0, 0)}
	if opts.Retention > 0 {
		res.Cutoff = now.Add(-opts.Retention)
	}
	var sealed []audit.Checkpoint // anchors and the checkpoints covering the purge records
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The partition lock first, as hipaakit_audit_ensure_partitions
		// takes it before it touches the partitioned table: a purge and a
		// writer creating partitions then wait for each other instead of
		// deadlocking.
		if _, err := tx.Exec(ctx, partitionLockSQL); err != nil {
			return err
		}
		all, purgeable, err := partitions(ctx, tx, res.Cutoff)
		if err != nil {
			return err
		}
		// The contiguous run of oldest partitions that may go.
		var end time.Time
		for _, p := range all {
			rng, ok := purgeable[p]
			if ok && !audit.RetentionPassedBefore(rng, now, opts.Retention) {
				// not every record of the month (logged before rng) has
				// passed the retention yet: six calendar years roll Feb 29
				// onto Mar 1, later than the database's cutoff
				break
			}
			if !ok {
				if m, ok := monthOf(p); ok && !m.AddDate(0, 1, 0).After(res.Cutoff) {
					res.Kept = p // ended before the cutoff: held
				}
				break
			}
			res.Partitions = append(res.Partitions, p)
			end = rng
		}
		if len(res.Partitions) == 0 {
			return nil
		}
		if res.Boundaries, err = boundaries(ctx, tx, end); err != nil {
			return err
		}
		if opts.DryRun {
			return nil
		}
		for i := range res.Boundaries {
			cps, err := appendPurgeRecord(ctx, tx, clk, now, &res.Boundaries[i], res.Partitions, opts.Signer)
			if err != nil {
				return err
			}
			sealed = append(sealed, cps...)
		}
		var dropped []string
		rs, err := tx.Query(ctx, "SELECT hipaakit_audit_purge($1, $2, $3::interval)", res.Cutoff, res.Partitions,
			strconv.FormatInt(int64(now.Sub(res.Cutoff)/time.Second), 10)+" seconds")
		if err != nil {
			return err
		}
		if dropped, err = pgx.CollectRows(rs, pgx.RowTo[string]); err != nil {
			return err
		}
		if !slices.Equal(dropped, res.Partitions) {
			return errors.New("pgaudit: purge: the database refused to drop some partitions (a legal hold or the database clock); nothing was purged")
		}
		return nil
	})
	if err != nil {
		return PurgeResult{}, dbErr("purge", err)
	}
	if opts.CheckpointSink != nil {
		for _, cp := range sealed {
			if err := opts.CheckpointSink.WriteCheckpoint(ctx, cp); err != nil {
				return res, fmt.Errorf("pgaudit: purge: checkpoint sink: %w", err)
			}
		}
	}
	return res, nil
}

// partitions lists the record partitions oldest first, and those that are
// purgeable at cutoff with their range end.
func partitions(ctx context.Context, tx pgx.Tx, cutoff time.Time) ([]string, map[string]time.Time, error) {
	rs, err := tx.Query(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'hipaakit_audit_records'::regclass ORDER BY 1`)
	if err != nil {
		return nil, nil, err
	}
	all, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	rs, err = tx.Query(ctx, "SELECT partition, range_end FROM hipaakit_audit_purgeable($1)", cutoff)
	if err != nil {
		return nil, nil, err
	}
	purgeable := map[string]time.Time{}
	for rs.Next() {
		var p string
		var end time.Time
		if err := rs.Scan(&p, &end); err != nil {
			rs.Close()
			return nil, nil, err
		}
		purgeable[p] = end
	}
	rs.Close()
	return all, purgeable, rs.Err()
}

// monthOf parses a partition name's month; ok is false for a foreign name.
func monthOf(name string) (time.Time, bool) {
	ym, ok := strings.CutPrefix(name, "hipaakit_audit_records_p")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse("200601", ym)
	return t, err == nil
}

// boundaries returns, for each stream with records logged before end, its
// last such record.
func boundaries(ctx context.Context, tx pgx.Tx, end time.Time) ([]Boundary, error) {
	rs, err := tx.Query(ctx, `SELECT DISTINCT ON (stream) stream, seq, hash FROM hipaakit_audit_records
		WHERE logged_at < $1 ORDER BY stream, seq DESC`, end)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Boundary
	for rs.Next() {
		var b Boundary
		var seq int64
		var h []byte
		if err := rs.Scan(&b.Stream, &seq, &h); err != nil {
			return nil, err
		}
		b.Seq = uint64(seq)
		copy(b.Head[:], h)
		out = append(out, b)
	}
	return out, rs.Err()
}

// appendPurgeRecord locks b's stream head, appends the retention_purge
// record after it, moves the head (keeping the stream's owner) and stores
// two signed checkpoints: the anchor (b.Seq, b.Head) and one covering the
// retention_purge record, so that the trail stays sealed also when the
// stream's writer is gone (a decommissioned instance never checkpoints
// again). It returns both, anchor first.
func appendPurgeRecord(ctx context.Context, tx pgx.Tx, clk clock.Clock, now time.Time, b *Boundary, parts []string, signer crypto.Signer) ([]audit.Checkpoint, error) {
	var seq int64
	var head []byte
	var lastLogged time.Time
	if err := tx.QueryRow(ctx, "SELECT last_seq, head, last_logged FROM hipaakit_audit_streams WHERE stream = $1 FOR UPDATE",
		b.Stream).Scan(&seq, &head, &lastLogged); err != nil {
		return nil, err
	}
	var h audit.Hash
	copy(h[:], head)
	chain, err := audit.NewChain(audit.ChainConfig{Stream: b.Stream, Seq: uint64(seq), Head: h, Clock: clk})
	if err != nil {
		return nil, err
	}
	line, rec, err := chain.AppendNext(nil, audit.Event{
		Time: now, Action: audit.ActionRetentionPurge, Outcome: audit.OutcomeSuccess, Reason: "retention_expired",
		Origin: audit.Origin{Channel: audit.ChannelSystem},
		Attrs: map[string]string{
			audit.AttrPurgedThrough: strconv.FormatUint(b.Seq, 10),
			"partitions":            strings.Join(parts, ","),
		},
	})
	if err != nil {
		return nil, err
	}
	logged := now
	if logged.Before(lastLogged) {
		logged = lastLogged
	}
	if _, err := tx.Exec(ctx, "SELECT hipaakit_audit_ensure_partitions($1, 1)", logged); err != nil {
		return nil, err
	}
	var rs rows
	rs.add(&rec, line)
	if _, err := tx.Exec(ctx, insertRecordsSQL, rs.args(b.Stream, logged)...); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "UPDATE hipaakit_audit_streams SET last_seq = $2, head = $3, last_logged = $4 WHERE stream = $1",
		b.Stream, int64(rec.Seq), rec.Hash[:], logged); err != nil {
		return nil, err
	}
	b.PurgeSeq = rec.Seq
	cps := []audit.Checkpoint{
		{Stream: b.Stream, Seq: b.Seq, Head: b.Head, Time: now, Reason: audit.CheckpointAnchor},
		{Stream: b.Stream, Seq: rec.Seq, Head: rec.Hash, Time: logged, Reason: audit.CheckpointPurge},
	}
	for i := range cps {
		cp := &cps[i]
		if err := cp.Sign(signer); err != nil {
			return nil, err
		}
		cpLine, err := cp.Marshal()
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO hipaakit_audit_checkpoints (stream, seq, reason, line) VALUES ($1, $2, $3, $4)",
			b.Stream, int64(cp.Seq), string(cp.Reason), cpLine); err != nil {
			return nil, err
		}
	}
	return cps, nil
}

// ErrHoldNotFound reports ReleaseHold of an unknown or released hold.
var ErrHoldNotFound = errors.New("pgaudit: no active legal hold with that id")

// PlaceHold places a legal hold with the given id: while it is active, no
// partition holding a record of subject is purged, or, when subject is "",
// no partition at all. Placing an id that exists is a no-op. The caller
// records the legal_hold event in the trail.
func PlaceHold(ctx context.Context, pool *pgxpool.Pool, id, subject, reason string) error {
	if id == "" || len(id) > 256 || len(subject) > audit.MaxStringLen || len(reason) > audit.MaxStringLen ||
		strings.IndexByte(id+subject+reason, 0) >= 0 {
		return errors.Join(ErrOptions, errors.New("pgaudit: hold id, subject or reason is empty, too long or holds NUL"))
	}
	_, err := pool.Exec(ctx, `INSERT INTO hipaakit_audit_holds (id, subject, reason) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, id, subject, reason)
	if err != nil {
		return dbErr("place hold", err)
	}
	return nil
}

// ReleaseHold releases the active hold id.
func ReleaseHold(ctx context.Context, pool *pgxpool.Pool, id string) error {
	tag, err := pool.Exec(ctx, "UPDATE hipaakit_audit_holds SET released_at = now() WHERE id = $1 AND released_at IS NULL", id)
	if err != nil {
		return dbErr("release hold", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrHoldNotFound
	}
	return nil
}
