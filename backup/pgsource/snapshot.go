package pgsource

import (
	"context"
	"errors"
	"regexp"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Snapshot shares one moment of a database among several Sources: while it
// is held, every Source whose Snapshot field names it reads the database as
// of that moment (pg_export_snapshot, SET TRANSACTION SNAPSHOT), whichever
// schema it reads and whenever its Walk starts. A backup set of several
// schemas (the deployment's main schema and its disposal ledger's) is then
// one consistent snapshot of all their tables: no commit is seen by one
// member and missed by another.
//
// Hold is what backup.SetConfig.Cut takes. A Snapshot is held by one set at
// a time; a second Hold waits for the first release. While held, a Source
// of the Snapshot that is backed up on its own (not in the set) reads the
// held moment too.
type Snapshot struct {
	Pool *pgxpool.Pool

	turn chan struct{} // one holder at a time
	once sync.Once
	mu   sync.Mutex
	id   string
}

// NewSnapshot returns a Snapshot of the database behind pool.
func NewSnapshot(pool *pgxpool.Pool) *Snapshot { return &Snapshot{Pool: pool} }

// snapshotID is what pg_export_snapshot returns ("00000003-0000001B-1"):
// checked before it is written into SET TRANSACTION SNAPSHOT, which takes
// no parameters.
var snapshotID = regexp.MustCompile(`^[0-9A-F]+(-[0-9A-F]+)+$`)

// Hold begins a REPEATABLE READ, READ ONLY transaction, exports its
// snapshot and keeps the transaction open until release is called; the
// Sources of s read that snapshot meanwhile. release ends the transaction
// (it writes nothing) and may be called more than once.
func (s *Snapshot) Hold(ctx context.Context) (release func() error, err error) {
	if s == nil || s.Pool == nil {
		return nil, errors.New("backup/pgsource: Snapshot needs a pool")
	}
	s.once.Do(func() { s.turn = make(chan struct{}, 1) })
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		<-s.turn
		return nil, pgFail("begin snapshot", err)
	}
	var id string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id); err != nil || !snapshotID.MatchString(id) {
		tx.Rollback(context.WithoutCancel(ctx))
		<-s.turn
		if err == nil {
			err = errors.New("unexpected snapshot name")
		}
		return nil, pgFail("export snapshot", err)
	}
	s.mu.Lock()
	s.id = id
	s.mu.Unlock()
	var done sync.Once
	return func() error {
		var err error
		done.Do(func() {
			s.mu.Lock()
			s.id = ""
			s.mu.Unlock()
			err = tx.Rollback(context.WithoutCancel(ctx))
			<-s.turn
		})
		if err != nil {
			return pgFail("end snapshot", err)
		}
		return nil
	}, nil
}

// current is the held snapshot's name, "" when s is nil or not held.
func (s *Snapshot) current() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// importSnapshot makes tx, just begun, read the held snapshot of s (nothing
// when s is not held).
func importSnapshot(ctx context.Context, tx pgx.Tx, s *Snapshot) error {
	id := s.current()
	if id == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+ql(id)); err != nil {
		return pgFail("import snapshot", err)
	}
	return nil
}
