package pgaudit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
)

// streamWriter appends events to one stream with durable group commit.
type streamWriter struct {
	pool  *pgxpool.Pool
	opts  Options
	owner string
	reqs  chan *request
	quit  chan struct{}
	done  chan struct{}

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool

	// Owned by the run goroutine.
	chain      *audit.Chain
	lastLogged time.Time
	sinceCP    int
	partsUntil time.Time
	failed     error
	batch      []*request
	b          rows
	tree       *audit.Frontier // nil when the stream has no tree (audit.ErrNoTree)
	treeBuf    []audit.Hash    // reused by treeUpdate
}

type request struct {
	ctx      context.Context
	e        audit.Event
	done     chan error
	answered bool // done has its answer (an invalid event)
}

// openStream claims opts.Stream, continuing its chain from the stored
// head, creates the partitions it needs and starts the committer.
func openStream(ctx context.Context, pool *pgxpool.Pool, opts Options) (*streamWriter, error) {
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("pgaudit: owner token: %w", err)
	}
	w := &streamWriter{
		pool: pool, opts: opts, owner: hex.EncodeToString(tok[:]),
		reqs: make(chan *request, opts.QueueSize), quit: make(chan struct{}), done: make(chan struct{}),
	}
	now := opts.Clock.Now().UTC()
	if err := w.ensurePartitions(ctx, now); err != nil {
		return nil, err
	}
	var seq int64
	var head []byte
	err := pool.QueryRow(ctx, `INSERT INTO hipaakit_audit_streams AS s (stream, owner, last_seq, head, last_logged)
		VALUES ($1, $2, 0, $3, $4)
		ON CONFLICT (stream) DO UPDATE SET owner = EXCLUDED.owner, claimed_at = now()
		RETURNING s.last_seq, s.head, s.last_logged`,
		opts.Stream, w.owner, make([]byte, 32), now).Scan(&seq, &head, &w.lastLogged)
	if err != nil {
		return nil, dbErr("claim stream", err)
	}
	var h audit.Hash
	copy(h[:], head)
	if w.chain, err = audit.NewChain(audit.ChainConfig{Stream: opts.Stream, Seq: uint64(seq), Head: h, Clock: opts.Clock}); err != nil {
		return nil, err
	}
	if err := w.openTree(ctx, uint64(seq)); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

func (w *streamWriter) write(ctx context.Context, e audit.Event) error {
	if err := ctx.Err(); err != nil {
		return unavailable("context done before write", err)
	}
	r := &request{ctx: ctx, e: e, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return audit.ErrClosed
	}
	select {
	case w.reqs <- r:
	default:
		t := time.NewTimer(w.opts.FullTimeout)
		select {
		case w.reqs <- r:
			t.Stop()
		case <-t.C:
			w.mu.RUnlock()
			return unavailable("queue full", nil)
		case <-ctx.Done():
			t.Stop()
			w.mu.RUnlock()
			return unavailable("context done while queued", ctx.Err())
		}
	}
	w.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// Not acknowledged: the caller must refuse the access. The event
		// may still be stored, which errs on the side of the trail.
		return unavailable("context done before commit", ctx.Err())
	}
}

func (w *streamWriter) close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.quit)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w.failed != nil {
		return w.failed
	}
	return nil
}

func (w *streamWriter) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-w.reqs:
			w.collect(r)
		case <-tick.C:
			if w.sinceCP > 0 && w.failed == nil {
				_ = w.commit(nil, audit.CheckpointInterval)
			}
		case <-w.quit:
			for {
				select {
				case r := <-w.reqs:
					w.collect(r)
					continue
				default:
				}
				break
			}
			if w.failed == nil {
				if seq, _ := w.chain.Head(); w.sinceCP > 0 || seq == 0 {
					_ = w.commit(nil, audit.CheckpointClose)
				}
			}
			return
		}
	}
}

// collect gathers r and every request already waiting (up to MaxBatch) into
// one batch and commits it.
func (w *streamWriter) collect(r *request) {
	w.batch = append(w.batch[:0], r)
	// Let the writers that the last commit just released queue their next
	// events before the batch is cut; without this, batches alternate
	// between one event and all the others.
	runtime.Gosched()
	for len(w.batch) < w.opts.MaxBatch {
		select {
		case r := <-w.reqs:
			w.batch = append(w.batch, r)
			continue
		default:
		}
		break
	}
	live := w.batch[:0]
	for _, r := range w.batch {
		switch {
		case w.failed != nil:
			r.done <- w.failed
		case r.ctx.Err() != nil:
			r.done <- unavailable("context done before commit", r.ctx.Err())
		default:
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	err := w.commit(live, "")
	for _, r := range live {
		if !r.answered {
			r.done <- err
		}
	}
	clear(w.batch)
}

// maxAttempts bounds the retries of one batch after the head moved (a
// purge appended to the stream, or an earlier commit whose outcome was
// unknown) or a partition was missing.
const maxAttempts = 3

// commit stores the events of batch (which may be empty) and, when due or
// when cpReason is set, a checkpoint, in one transaction. Requests whose
// event is invalid are answered here; the others are answered by the caller
// with the returned error.
func (w *streamWriter) commit(batch []*request, cpReason audit.CheckpointReason) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.CommitTimeout)
	defer cancel()
	oldSeq, oldHead := w.chain.Head()
	var err error
	for attempt := 1; ; attempt++ {
		err = w.tryCommit(ctx, batch, cpReason)
		var se *sinkError
		if err == nil || errors.As(err, &se) {
			return err // committed (a sink failure still fails the Writes)
		}
		if rerr := w.chain.Reset(oldSeq, oldHead); rerr != nil {
			return rerr
		}
		if attempt == maxAttempts {
			break
		}
		var pgErr *pgconn.PgError
		switch {
		case errors.Is(err, errHeadMoved):
			// Another writer claimed the stream (reloadHead fails for
			// good), or the head moved under us: a purge appended to the
			// stream, or an earlier commit whose outcome was unknown did
			// commit. Continue from the stored head.
			if err := w.reloadHead(ctx); err != nil {
				return err
			}
			oldSeq, oldHead = w.chain.Head()
		case errors.As(err, &pgErr) && pgErr.Code == "23514": // no partition for logged_at
			if err := w.ensurePartitions(ctx, w.loggedAt()); err != nil {
				return err
			}
		default:
			return dbErr("commit", err)
		}
	}
	return dbErr("commit", err)
}

// errHeadMoved reports a commit whose compare-and-set on the stream head
// found another owner or another head; nothing of it was stored.
var errHeadMoved = errors.New("pgaudit: stream head moved")

func (w *streamWriter) tryCommit(ctx context.Context, batch []*request, cpReason audit.CheckpointReason) error {
	logged := w.loggedAt()
	if !logged.Before(w.partsUntil.AddDate(0, -1, 0)) {
		if err := w.ensurePartitions(ctx, logged); err != nil {
			return err
		}
	}
	oldSeq, oldHead := w.chain.Head()
	w.b.reset()
	for _, r := range batch {
		if r.answered {
			continue
		}
		line, rec, err := w.chain.AppendNext(w.b.scratch[:0], r.e)
		if err != nil {
			r.done <- err // invalid event: only this request fails
			r.answered = true
			continue
		}
		w.b.add(&rec, line)
	}
	newSeq, newHead := w.chain.Head()
	if newSeq == oldSeq && batch != nil {
		return nil // every event was invalid
	}
	var cp *audit.Checkpoint
	if cpReason == "" && w.sinceCP+len(w.b.seq) >= w.opts.CheckpointEvery {
		cpReason = audit.CheckpointCount
	}
	var cpLine []byte
	if cpReason != "" {
		cp = &audit.Checkpoint{Stream: w.opts.Stream, Seq: newSeq, Head: newHead, Time: logged, Reason: cpReason}
		if err := cp.Sign(w.opts.Signer); err != nil {
			return fmt.Errorf("pgaudit: sign checkpoint: %w", err)
		}
		var err error
		if cpLine, err = cp.Marshal(); err != nil {
			return err
		}
	}
	// One implicit transaction: move the head if, and only if, this writer
	// still owns the stream and the head is where it believes (the records
	// are inserted only then), and store the checkpoint under the same
	// condition.
	// The tree hashes go into the records' statement (appendTreeSQL).
	b := &pgx.Batch{}
	tu, err := w.treeUpdate(oldSeq, newSeq, newHead, cp)
	if err != nil {
		return err
	}
	if n := len(w.b.seq); n > 0 {
		args := append(w.b.args(w.opts.Stream, logged), int64(newSeq), newHead[:], w.owner, int64(oldSeq), oldHead[:])
		if tu != nil && len(tu.hashes) > 0 {
			b.Queue(appendTreeSQL, append(args, tu.at, tu.hashes)...)
		} else {
			b.Queue(appendRecordsSQL, args...)
		}
	} else {
		b.Queue(advanceSQL, w.opts.Stream, logged, w.owner, int64(oldSeq), oldHead[:])
	}
	if cp != nil {
		b.Queue(insertCheckpointSQL, w.opts.Stream, int64(newSeq), string(cpReason), cpLine, w.owner, newHead[:])
	}
	if tu != nil && tu.note != nil {
		b.Queue(insertTreeCheckpointSQL, w.opts.Stream, int64(newSeq), tu.note, w.owner, newHead[:])
	}
	var front *audit.Frontier
	if tu != nil {
		front = tu.front
	}
	br := w.pool.SendBatch(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if want := int64(max(len(w.b.seq), 1)); tag.RowsAffected() != want {
		return errHeadMoved
	}
	w.lastLogged = logged
	if front != nil {
		w.tree = front
	}
	if cp != nil {
		w.sinceCP = 0
		if w.opts.CheckpointSink != nil {
			if err := w.opts.CheckpointSink.WriteCheckpoint(ctx, *cp); err != nil {
				return &sinkError{unavailable("checkpoint sink", err)}
			}
		}
	} else {
		w.sinceCP += len(w.b.seq)
	}
	return nil
}

// loggedAt is the write time for the next commit: the clock, but never
// before the stream's last one, so that logged_at never decreases along a
// stream.
func (w *streamWriter) loggedAt() time.Time {
	t := w.opts.Clock.Now().UTC().Round(0)
	if t.Before(w.lastLogged) {
		return w.lastLogged
	}
	return t
}

// sinkError is a CheckpointSink failure after the batch committed.
type sinkError struct{ error }

func (e *sinkError) Unwrap() error { return e.error }

func (w *streamWriter) reloadHead(ctx context.Context) error {
	var owner string
	var seq int64
	var head []byte
	err := w.pool.QueryRow(ctx, "SELECT owner, last_seq, head, last_logged FROM hipaakit_audit_streams WHERE stream = $1",
		w.opts.Stream).Scan(&owner, &seq, &head, &w.lastLogged)
	if err != nil {
		return dbErr("reload head", err)
	}
	if owner != w.owner {
		w.failed = ErrStreamConflict
		return w.failed
	}
	var h audit.Hash
	copy(h[:], head)
	if err := w.chain.Reset(uint64(seq), h); err != nil {
		return err
	}
	return w.openTree(ctx, uint64(seq))
}

// ensurePartitions creates the partitions from at's month to
// PartitionsAhead months later.
func (w *streamWriter) ensurePartitions(ctx context.Context, at time.Time) error {
	months := w.opts.PartitionsAhead + 1
	if _, err := w.pool.Exec(ctx, "SELECT hipaakit_audit_ensure_partitions($1, $2)", at, months); err != nil {
		return dbErr("create partitions", err)
	}
	m := time.Date(at.UTC().Year(), at.UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, months, 0)
	if m.After(w.partsUntil) {
		w.partsUntil = m
	}
	return nil
}

// insertRecordsSQL inserts one batch of rows (column arrays $3-$13, all of
// stream $1 and logged at $2).
const insertRecordsSQL = `INSERT INTO hipaakit_audit_records
	(stream, seq, logged_at, time_s, time_n, action, outcome, subject, actor_id, record_type, record_id, hash, line)
	SELECT $1, u.seq, $2, u.time_s, u.time_n, u.action, u.outcome, u.subject, u.actor_id, u.record_type, u.record_id, u.hash, u.line
	FROM unnest($3::bigint[], $4::bigint[], $5::integer[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::bytea[])
	AS u(seq, time_s, time_n, action, outcome, subject, actor_id, record_type, record_id, hash, line)`

// appendRecordsSQL is insertRecordsSQL guarded by the compare-and-set of
// the stream head: new seq $14 and head $15, owner $16, old seq $17 and
// head $18. When the head is not where the writer believes, nothing is
// inserted.
const appendRecordsSQL = advanceCTE + insertRecordsSQL + ` WHERE EXISTS (SELECT 1 FROM adv)`

// appendTreeSQL is appendRecordsSQL that also stores the commit's Merkle
// tree hashes ($20, from stored-hash index $19) under the same condition,
// in the same statement: one statement per commit, as without a tree.
const appendTreeSQL = advanceCTE + `, tree AS (
	INSERT INTO hipaakit_audit_tree (stream, first_idx, hashes) SELECT $1, $19, $20 WHERE EXISTS (SELECT 1 FROM adv)) ` +
	insertRecordsSQL + ` WHERE EXISTS (SELECT 1 FROM adv)`

// advanceCTE moves the stream head (the compare-and-set of appendRecordsSQL).
const advanceCTE = `WITH adv AS (
	UPDATE hipaakit_audit_streams SET last_seq = $14, head = $15, last_logged = $2
	WHERE stream = $1 AND owner = $16 AND last_seq = $17 AND head = $18 RETURNING 1)`

// advanceSQL is the compare-and-set of a commit without records.
const advanceSQL = `UPDATE hipaakit_audit_streams SET last_logged = $2
	WHERE stream = $1 AND owner = $3 AND last_seq = $4 AND head = $5`

// insertCheckpointSQL stores a checkpoint of head ($2, $6) when the stream
// head is exactly that and owned by $5 (in the commit's transaction, after
// the head moved).
const insertCheckpointSQL = `INSERT INTO hipaakit_audit_checkpoints (stream, seq, reason, line)
	SELECT $1, $2, $3, $4 WHERE EXISTS (
		SELECT 1 FROM hipaakit_audit_streams WHERE stream = $1 AND owner = $5 AND last_seq = $2 AND head = $6)`

// rows accumulates one batch in column arrays, reused across batches.
type rows struct {
	seq, timeS                                      []int64
	timeN                                           []int32
	action, outcome, subject, actor, recType, recID []string
	hash, line                                      [][]byte
	scratch                                         []byte
}

func (b *rows) reset() {
	b.seq, b.timeS, b.timeN = b.seq[:0], b.timeS[:0], b.timeN[:0]
	b.action, b.outcome, b.subject, b.actor, b.recType, b.recID = b.action[:0], b.outcome[:0], b.subject[:0], b.actor[:0], b.recType[:0], b.recID[:0]
	b.hash, b.line = b.hash[:0], b.line[:0]
}

func (b *rows) add(r *audit.Record, line []byte) {
	e := &r.Event
	b.seq = append(b.seq, int64(r.Seq))
	b.timeS = append(b.timeS, e.Time.Unix())
	b.timeN = append(b.timeN, int32(e.Time.Nanosecond()))
	b.action = append(b.action, string(e.Action))
	b.outcome = append(b.outcome, string(e.Outcome))
	b.subject = append(b.subject, column(e.Target.Subject))
	b.actor = append(b.actor, column(e.Actor.UserID))
	b.recType = append(b.recType, column(e.Target.RecordType))
	b.recID = append(b.recID, column(e.Target.RecordID))
	b.hash = append(b.hash, append([]byte(nil), r.Hash[:]...))
	b.line = append(b.line, append([]byte(nil), line...))
	b.scratch = line[:0]
}

func (b *rows) args(stream string, logged time.Time) []any {
	return []any{stream, logged, b.seq, b.timeS, b.timeN, b.action, b.outcome, b.subject, b.actor, b.recType, b.recID, b.hash, b.line}
}

// column is the indexed form of an event string: PostgreSQL text cannot
// hold NUL, so NUL becomes U+FFFD. Reads re-check every filter against the
// parsed record, so the substitution can widen an index lookup but never
// change a result.
func column(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// unavailableError is a failure to store an event: it matches
// audit.ErrUnavailable, and the cause when there is one.
type unavailableError struct {
	what  string
	cause error
}

func (e *unavailableError) Error() string {
	if e.cause == nil {
		return "pgaudit: " + e.what + ": " + audit.ErrUnavailable.Error()
	}
	return "pgaudit: " + e.what + ": " + e.cause.Error()
}

func (e *unavailableError) Unwrap() []error {
	if e.cause == nil {
		return []error{audit.ErrUnavailable}
	}
	return []error{audit.ErrUnavailable, e.cause}
}

func unavailable(what string, cause error) error { return &unavailableError{what, cause} }

// dbErr wraps a database failure as unavailable. PostgreSQL's messages
// about these statements never contain event content: values are bound
// parameters, and errors name constraints, not rows.
func dbErr(what string, err error) error {
	if errors.Is(err, audit.ErrUnavailable) || errors.Is(err, ErrStreamConflict) {
		return err
	}
	return unavailable(what, err)
}
