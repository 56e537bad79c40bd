package pgaudit

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
)

// Store reads the PostgreSQL audit trail: search (audit.Searcher, for
// audit.Query, audit.Export and audit.AccountingOfDisclosures) and
// verification. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// q is what the Store reads through: the pool, or the transaction of
	// a snapshot (snap set).
	q    querier
	snap bool
}

// querier is the part of a pool and of a transaction that reads.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// NewStore returns a Store over the pool's current schema.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, q: pool} }

// snapshotTx is the transaction of a snapshot: it sees the trail as it was
// when it began, whatever writers commit meanwhile, and cannot write.
var snapshotTx = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// Snapshot calls fn with a Store that reads one consistent snapshot of the
// trail (a REPEATABLE READ, READ ONLY transaction): stream heads, records
// and checkpoints as of one moment, while writers go on appending. Use it
// to verify and then read what was verified (Verify, then Search or
// Entries, on the snapshot's Store). The snapshot's Store is valid only
// during fn and is not for concurrent use. A snapshot holds back
// PostgreSQL's cleanup of dead rows while it lasts, so keep it to one pass.
// Verify and Entries take a snapshot of their own when called on a Store
// outside one.
func (s *Store) Snapshot(ctx context.Context, fn func(*Store) error) error {
	if s.snap {
		return fn(s)
	}
	tx, err := s.pool.BeginTx(ctx, snapshotTx)
	if err != nil {
		return dbErr("begin snapshot", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to keep or lose
	return fn(&Store{pool: s.pool, q: tx, snap: true})
}

var _ audit.ChainSearcher = (*Store)(nil)

// Search implements audit.Searcher. Every filter value is a bind parameter
// compared with '=' (no LIKE, no patterns), in the listing order
// (time, stream, seq) served by an index. f must be valid (audit.Query and
// audit.Export validate it); an invalid f yields audit.ErrInvalidFilter.
func (s *Store) Search(ctx context.Context, f audit.Filter) iter.Seq2[audit.Record, error] {
	return s.search(ctx, f, false)
}

// SearchChain implements audit.ChainSearcher: the records that match f,
// stream by stream (sorted by name), each in sequence order (served by the
// primary key), so that an export of whole streams verifies with
// audit.Verify. f.After must be zero.
func (s *Store) SearchChain(ctx context.Context, f audit.Filter) iter.Seq2[audit.Record, error] {
	return s.search(ctx, f, true)
}

func (s *Store) search(ctx context.Context, f audit.Filter, chain bool) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		if err := f.ValidateSearch(); err != nil {
			yield(audit.Record{}, err)
			return
		}
		if chain && !f.After.IsZero() {
			yield(audit.Record{}, &audit.FilterError{Field: "after", Reason: "not used in chain order"})
			return
		}
		if chain && f.Descending {
			yield(audit.Record{}, &audit.FilterError{Field: "descending", Reason: "not used in chain order"})
			return
		}
		sql, args := searchSQL(&f, chain)
		rs, err := s.q.Query(ctx, sql, args...)
		if err != nil {
			yield(audit.Record{}, dbErr("search", err))
			return
		}
		defer rs.Close()
		for rs.Next() {
			r, err := audit.ParseRecord(rs.RawValues()[0])
			if err != nil {
				yield(audit.Record{}, &RowError{Op: "search", Err: err})
				return
			}
			// The columns narrowed the search; the record decides.
			if !f.Match(&r) || !f.Follows(audit.CursorOf(&r)) {
				continue
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rs.Err(); err != nil {
			yield(audit.Record{}, dbErr("search", err))
		}
	}
}

// searchSQL builds the search statement. Only fixed column names and
// placeholders enter the SQL text; every value is an argument.
func searchSQL(f *audit.Filter, chain bool) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+arg(column(v)))
		}
	}
	eq("stream", f.Stream)
	eq("subject", f.Subject)
	eq("actor_id", f.ActorID)
	eq("record_type", f.RecordType)
	eq("record_id", f.RecordID)
	eq("outcome", string(f.Outcome))
	if len(f.Actions) > 0 {
		as := make([]string, len(f.Actions))
		for i, a := range f.Actions {
			as[i] = string(a)
		}
		where = append(where, "action = ANY("+arg(as)+"::text[])")
	}
	if !f.Since.IsZero() {
		t := f.Since.UTC()
		where = append(where, "(time_s, time_n) >= ("+arg(t.Unix())+"::bigint, "+arg(int32(t.Nanosecond()))+"::integer)")
	}
	if !f.Until.IsZero() {
		t := f.Until.UTC()
		where = append(where, "(time_s, time_n) < ("+arg(t.Unix())+"::bigint, "+arg(int32(t.Nanosecond()))+"::integer)")
	}
	if !f.After.IsZero() {
		t := f.After.Time.UTC()
		op := " > "
		if f.Descending {
			op = " < "
		}
		where = append(where, "(time_s, time_n, stream, seq)"+op+"("+arg(t.Unix())+"::bigint, "+arg(int32(t.Nanosecond()))+
			"::integer, "+arg(f.After.Stream)+"::text COLLATE \"C\", "+arg(int64(f.After.Seq))+"::bigint)")
	}
	var b strings.Builder
	b.WriteString("SELECT line FROM hipaakit_audit_records")
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	if chain {
		b.WriteString(" ORDER BY stream, seq")
	} else if f.Descending {
		b.WriteString(" ORDER BY time_s DESC, time_n DESC, stream DESC, seq DESC")
	} else {
		b.WriteString(" ORDER BY time_s, time_n, stream, seq")
	}
	if f.Limit > 0 {
		b.WriteString(" LIMIT " + arg(int64(f.Limit)))
	}
	return b.String(), args
}

// RowError reports a stored row that does not parse as a canonical record
// or checkpoint line. Err is the audit package's error (ErrMalformed,
// ErrNonCanonical, ...); the row's content is never included.
type RowError struct {
	Op     string
	Stream string
	Seq    uint64
	Err    error
}

func (e *RowError) Error() string {
	s := "pgaudit: " + e.Op + ": unreadable row"
	if e.Stream != "" {
		s += " at stream " + strconv.Quote(e.Stream) + " seq " + strconv.FormatUint(e.Seq, 10)
	}
	return s + ": " + e.Err.Error()
}

func (e *RowError) Unwrap() error { return e.Err }

// Verify checks every stream of the trail: the hash chain of its records in
// sequence order, its checkpoints (signed by one of opts.Keys), the anchor
// left by a purge, and that its last record is the head the streams table
// holds (so deleting the newest records is detected even after the last
// checkpoint). It reads one snapshot (see Snapshot), so writers appending
// meanwhile are never mistaken for tampering. It streams; memory grows with the number of streams, not
// records. The first failure is an *audit.VerifyError naming the stream and
// sequence number.
func (s *Store) Verify(ctx context.Context, opts audit.VerifyOptions) (res audit.Result, err error) {
	if !s.snap {
		err = s.Snapshot(ctx, func(snap *Store) error {
			res, err = snap.Verify(ctx, opts)
			return err
		})
		return res, err
	}
	type head struct {
		stream string
		seq    uint64
		hash   audit.Hash
	}
	var heads []head
	rs, err := s.q.Query(ctx, "SELECT stream, last_seq, head FROM hipaakit_audit_streams ORDER BY stream")
	if err != nil {
		return audit.Result{}, dbErr("verify", err)
	}
	for rs.Next() {
		var h head
		var seq int64
		var hb []byte
		if err := rs.Scan(&h.stream, &seq, &hb); err != nil {
			rs.Close()
			return audit.Result{}, dbErr("verify", err)
		}
		h.seq = uint64(seq)
		copy(h.hash[:], hb)
		heads = append(heads, h)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return audit.Result{}, dbErr("verify", err)
	}
	v := audit.NewVerifier(opts)
	for _, h := range heads {
		last, lastHash, err := s.verifyStream(ctx, v, h.stream)
		if err != nil {
			return audit.Result{}, err
		}
		switch {
		case last < h.seq:
			return audit.Result{}, &audit.VerifyError{Stream: h.stream, Seq: last + 1, Problem: audit.ProblemTruncated, Err: audit.ErrTruncated}
		case last > h.seq:
			return audit.Result{}, &audit.VerifyError{Stream: h.stream, Seq: h.seq + 1, Problem: audit.ProblemInserted, Err: audit.ErrChainBroken}
		case lastHash != h.hash:
			return audit.Result{}, &audit.VerifyError{Stream: h.stream, Seq: last, Problem: audit.ProblemModified, Err: audit.ErrChainBroken}
		}
	}
	return v.Finish()
}

// verifyStream feeds one stream's records and checkpoints to v and
// returns its last record's seq and hash.
func (s *Store) verifyStream(ctx context.Context, v *audit.Verifier, stream string) (uint64, audit.Hash, error) {
	var last uint64
	var lastHash audit.Hash
	err := s.streamLines(ctx, stream, func(seq uint64, hash, line []byte) error {
		if err := v.Line(line); err != nil {
			return err
		}
		if hash != nil {
			last = seq
			copy(lastHash[:], hash)
		}
		return nil
	})
	return last, lastHash, err
}

// streamLines calls fn with one stream's records and checkpoints in
// sequence order: a checkpoint after the record it covers, an anchor
// checkpoint before the first remaining record. hash is nil for a
// checkpoint. The slices are valid only during the call.
func (s *Store) streamLines(ctx context.Context, stream string, fn func(seq uint64, hash, line []byte) error) error {
	rs, err := s.q.Query(ctx, `WITH first AS (SELECT coalesce(min(seq), 1) AS seq FROM hipaakit_audit_records WHERE stream = $1)
		SELECT seq, 0 AS kind, hash, line FROM hipaakit_audit_records WHERE stream = $1
		UNION ALL
		SELECT seq, 1, NULL, line FROM hipaakit_audit_checkpoints WHERE stream = $1 AND seq >= (SELECT seq - 1 FROM first)
		ORDER BY 1, 2`, stream)
	if err != nil {
		return dbErr("read stream", err)
	}
	defer rs.Close()
	n := 0
	for rs.Next() {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var seq int64
		if err := rs.Scan(&seq, nil, nil, nil); err != nil {
			return dbErr("read stream", err)
		}
		vals := rs.RawValues()
		if err := fn(uint64(seq), vals[2], vals[3]); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return dbErr("read stream", err)
	}
	return nil
}

// streams lists the stream names, sorted.
func (s *Store) streams(ctx context.Context) ([]string, error) {
	rs, err := s.q.Query(ctx, "SELECT stream FROM hipaakit_audit_streams ORDER BY stream")
	if err != nil {
		return nil, dbErr("list streams", err)
	}
	names, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr("list streams", err)
	}
	return names, nil
}

// Entries yields every record and checkpoint of the trail, stream by
// stream (sorted by name), each stream in sequence order with every
// checkpoint after the record it covers — the order audit.Verify and
// audit.Verifier expect, for example to back up or re-verify the trail
// elsewhere. Every pass reads one snapshot (see Snapshot). Memory does not
// grow with the trail.
func (s *Store) Entries(ctx context.Context) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		if !s.snap {
			err := s.Snapshot(ctx, func(snap *Store) error {
				snap.entries(ctx, yield)
				return nil
			})
			if err != nil {
				yield(audit.Entry{}, err)
			}
			return
		}
		s.entries(ctx, yield)
	}
}

// entries is one pass of Entries.
func (s *Store) entries(ctx context.Context, yield func(audit.Entry, error) bool) {
	names, err := s.streams(ctx)
	if err != nil {
		yield(audit.Entry{}, err)
		return
	}
	stop := errors.New("stop")
	for _, name := range names {
		err := s.streamLines(ctx, name, func(seq uint64, _, line []byte) error {
			e, err := audit.ParseLine(line)
			if err != nil {
				return &RowError{Op: "read stream", Stream: name, Seq: seq, Err: err}
			}
			if !yield(e, nil) {
				return stop
			}
			return nil
		})
		if err == stop {
			return
		}
		if err != nil {
			yield(audit.Entry{}, err)
			return
		}
	}
}
