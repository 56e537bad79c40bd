package pgledger

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/signing"
)

// StreamPrefix begins the stream name of every ledger stream.
const StreamPrefix = disposal.DefaultLedgerStream

// Options configure a Store.
type Options struct {
	// Stream is this instance's ledger stream: "disposal" (the default) or
	// "disposal-" and a stable instance name. Two live instances must not
	// share one.
	Stream string
	// Signer signs checkpoints (ed25519). Required.
	Signer crypto.Signer
	// Keys are the trusted checkpoint keys when reading (default: Signer's
	// public key). pgaudit verifies a schema as a whole, so list the key of
	// every writer whose stream is in the schema (every instance's ledger
	// key, and the audit trail's keys if it shares the schema).
	Keys signing.KeySet
	// Clock stamps checkpoints (default: the system clock).
	Clock clock.Clock
}

// Store is a disposal.LedgerStore in PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	w      *pgaudit.Writer
	reader *pgaudit.Store
	keys   signing.KeySet
	stream string
	// lockConns bounds the pool connections that subject locks hold, so
	// that shreds waiting for a lock never take every connection from the
	// lookups and appends of the shreds holding one.
	lockConns chan struct{}
}

var (
	_ disposal.LedgerStore   = (*Store)(nil)
	_ disposal.SubjectLocker = (*Store)(nil)
)

// Migrate creates or upgrades the ledger's tables (pgaudit's schema) in the
// pool's current schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return pgaudit.Migrate(ctx, pool) }

// Open opens this instance's ledger stream for appending.
func Open(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	if opts.Stream == "" {
		opts.Stream = StreamPrefix
	}
	if !strings.HasPrefix(opts.Stream, StreamPrefix) || !audit.ValidStream(opts.Stream) {
		return nil, errors.New(`pgledger: Stream must be "disposal" or begin with "disposal-"`)
	}
	if opts.Signer == nil {
		return nil, errors.New("pgledger: Options.Signer is required")
	}
	pub, ok := opts.Signer.Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("pgledger: Signer must be an ed25519 key")
	}
	keys := opts.Keys
	if keys.Len() == 0 {
		keys, _ = signing.NewKeySet(pub) // one key cannot collide
	}
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: opts.Stream, Signer: opts.Signer, Clock: opts.Clock, CheckpointEvery: 1})
	if err != nil {
		return nil, fmt.Errorf("pgledger: open stream: %w", err)
	}
	return &Store{pool: pool, w: w, reader: pgaudit.NewStore(pool), keys: keys, stream: opts.Stream,
		lockConns: make(chan struct{}, max(1, pool.Config().MaxConns/2))}, nil
}

// subjectLockSQL takes the transaction-level advisory lock of one subject's
// disposal in the current schema ($1 the subject). Advisory locks are
// database-wide, hence the schema in the key.
const subjectLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('hipaakit/disposal/subject/' || current_schema() || '/' || $1, 0))`

// LockSubject implements disposal.SubjectLocker with a PostgreSQL advisory
// lock held by a transaction of its own, so that the shreds of one subject
// by every instance on the schema run one after another: the second finds
// the first's entry and returns it as repeated. The lock goes with the
// session: an instance that dies holding it releases it. Waiting honours
// ctx.
func (s *Store) LockSubject(ctx context.Context, subject string) (unlock func(), err error) {
	select {
	case s.lockConns <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	tx, err := s.pool.Begin(ctx)
	if err == nil {
		if _, err = tx.Exec(ctx, subjectLockSQL, subject); err != nil {
			tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // the failure is reported; the lock is not held
		}
	}
	if err != nil {
		<-s.lockConns
		return nil, fmt.Errorf("pgledger: lock subject: %w", err)
	}
	return func() {
		// Ending the transaction releases the lock; when it cannot end
		// cleanly the connection is closed, which releases it too.
		tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // see above
		<-s.lockConns
	}, nil
}

// Stream implements disposal.LedgerStore.
func (s *Store) Stream() string { return s.stream }

// Append implements disposal.LedgerStore.
func (s *Store) Append(ctx context.Context, e audit.Event) (audit.Record, error) {
	if err := s.w.Write(ctx, e); err != nil {
		return audit.Record{}, err
	}
	// Find the committed record (its seq and hash) by its unique
	// certificate ID.
	id := e.Attrs["certificate_id"]
	for r, err := range s.reader.Search(ctx, audit.Filter{Stream: s.stream, Subject: e.Target.Subject, Actions: []audit.Action{audit.ActionShred}}) {
		if err != nil {
			return audit.Record{}, fmt.Errorf("pgledger: read back: %w", err)
		}
		if r.Event.Attrs["certificate_id"] == id {
			return r, nil
		}
	}
	return audit.Record{}, errors.New("pgledger: committed entry not found on read back")
}

// streams verifies the whole schema's trail in snap and returns the ledger
// streams.
func (s *Store) streams(ctx context.Context, snap *pgaudit.Store) ([]string, error) {
	res, err := snap.Verify(ctx, audit.VerifyOptions{Keys: s.keys})
	if err != nil {
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			return nil, &disposal.LedgerError{Seq: ve.Seq, Reason: "verification failed: " + string(ve.Problem)}
		}
		return nil, fmt.Errorf("pgledger: verify: %w", err)
	}
	var out []string
	for _, st := range res.Streams {
		if st.Stream == StreamPrefix || strings.HasPrefix(st.Stream, StreamPrefix+"-") {
			out = append(out, st.Stream)
		}
	}
	return out, nil
}

// Scan implements disposal.LedgerStore. It verifies every stream in the
// schema, then yields the records of every ledger stream (stream by
// stream); after applies to each stream's sequence numbers. Verification
// and reading share one snapshot (pgaudit.Store.Snapshot), so what Scan
// yields is exactly what it verified, while other instances keep writing.
func (s *Store) Scan(ctx context.Context, after uint64, fn func(audit.Record) error) error {
	return s.reader.Snapshot(ctx, func(snap *pgaudit.Store) error {
		streams, err := s.streams(ctx, snap)
		if err != nil {
			return err
		}
		for _, st := range streams {
			for r, err := range snap.Search(ctx, audit.Filter{Stream: st}) {
				if err != nil {
					return &disposal.LedgerError{Reason: "unreadable entry"}
				}
				if r.Seq <= after {
					continue
				}
				if err := fn(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// FindSubject implements disposal.LedgerStore: the earliest disposal of
// subject in any ledger stream.
func (s *Store) FindSubject(ctx context.Context, subject string) (audit.Record, bool, error) {
	var found audit.Record
	ok := false
	for r, err := range s.reader.Search(ctx, audit.Filter{Subject: subject, Actions: []audit.Action{audit.ActionShred}, RecordType: "subject"}) {
		if err != nil {
			return audit.Record{}, false, fmt.Errorf("pgledger: lookup: %w", err)
		}
		if r.Stream != StreamPrefix && !strings.HasPrefix(r.Stream, StreamPrefix+"-") {
			continue
		}
		if !ok || r.Event.Time.Before(found.Event.Time) {
			found, ok = r, true
		}
	}
	return found, ok, nil
}

// Close closes this instance's writer, sealing its stream with a
// checkpoint.
func (s *Store) Close() error {
	return s.w.Close(context.Background())
}
