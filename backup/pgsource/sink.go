package pgsource

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/backup"
)

// Sink restores a PostgreSQL backup into the schema Schema of the database
// behind Pool. Everything happens in one transaction: the restore is built
// in a staging schema and renamed to Schema just before the commit (after
// dropping the old Schema when forced), so other sessions see the old
// schema or the complete restore, never a part.
type Sink struct {
	Pool   *pgxpool.Pool
	Schema string
	// DropAfterCheck makes Cleanup drop Schema: for restore drills into a
	// scratch schema (see NewScratchSink).
	DropAfterCheck bool
	// AllowWithoutRoutines restores a backup made before functions and
	// triggers were backed up (no routines.sql entry) although it holds a
	// hipaakit_migrations table: the restored schema then lacks them while
	// its migrations say they were applied (see the package doc). Without
	// it such a restore fails with ErrWithoutRoutines.
	AllowWithoutRoutines bool

	staging string
	force   bool
	conn    *pgxpool.Conn
	tx      pgx.Tx
}

var (
	_ backup.Sink    = (*Sink)(nil)
	_ backup.Checker = (*Sink)(nil)
)

// NewSink returns a sink restoring into schema.
func NewSink(pool *pgxpool.Pool, schema string) *Sink { return &Sink{Pool: pool, Schema: schema} }

// NewScratchSink returns a sink restoring into a new, randomly named schema
// that Cleanup drops: the scratch space of a restore drill.
func NewScratchSink(pool *pgxpool.Pool) *Sink {
	var b [6]byte
	rand.Read(b[:])
	return &Sink{Pool: pool, Schema: "hipaakit_drill_" + hex.EncodeToString(b[:]), DropAfterCheck: true}
}

// Begin implements backup.Sink.
func (s *Sink) Begin(ctx context.Context, m *backup.Manifest, force bool) error {
	if m.Source.Kind != "postgres" {
		return fmt.Errorf("%w: PostgreSQL sink, source kind %q", backup.ErrSourceKind, m.Source.Kind)
	}
	if s.Pool == nil || s.Schema == "" {
		return errors.New("backup/pgsource: Sink needs a pool and a schema")
	}
	if err := s.checkRoutines(m); err != nil {
		return err
	}
	s.force = force
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return pgFail("", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return pgFail("", err)
	}
	s.conn, s.tx = conn, tx
	if !force {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`, s.Schema).Scan(&n)
		if err != nil {
			s.Abort(ctx)
			return pgFail("", err)
		}
		if n > 0 {
			s.Abort(ctx)
			return fmt.Errorf("%w: destination schema holds relations", backup.ErrExists)
		}
	}
	var b [6]byte
	rand.Read(b[:])
	s.staging = "hipaakit_restore_" + hex.EncodeToString(b[:])
	if _, err := tx.Exec(ctx, "CREATE SCHEMA "+qi(s.staging)); err != nil {
		s.Abort(ctx)
		return pgFail("create staging schema", err)
	}
	if err := pinSession(ctx, tx, s.staging); err != nil {
		s.Abort(ctx)
		return err
	}
	return nil
}

// ErrWithoutRoutines: the backup has no routines.sql entry but restores a
// hipaakit_migrations table (see Sink.AllowWithoutRoutines).
var ErrWithoutRoutines = errors.New("backup/pgsource: backup has no functions and triggers (routines.sql) but restores table \"hipaakit_migrations\", which would say they were applied; set Sink.AllowWithoutRoutines to restore it anyway")

// checkRoutines refuses a backup made before routines.sql existed that
// holds a migrations table, unless s.AllowWithoutRoutines.
func (s *Sink) checkRoutines(m *backup.Manifest) error {
	migrations := false
	for _, e := range m.Entries {
		if e.Type == backup.EntrySchema && e.Path == routinesPath {
			return nil
		}
		migrations = migrations || (e.Type == backup.EntryTable && e.Meta["table"] == migrationsTable)
	}
	if migrations && !s.AllowWithoutRoutines {
		return ErrWithoutRoutines
	}
	return nil
}

// migrationsTable is internal/pgmigrate's record of applied migrations.
const migrationsTable = "hipaakit_migrations"

// Entry implements backup.Sink.
func (s *Sink) Entry(ctx context.Context, e *backup.Entry, body io.Reader) error {
	switch e.Type {
	case backup.EntrySchema:
		ddl, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if len(ddl) == 0 {
			return nil
		}
		if _, err := s.tx.Exec(ctx, string(ddl)); err != nil {
			return pgFail("apply "+e.Path, err)
		}
		return nil
	case backup.EntrySequence:
		last, called, err := parseSequence(body)
		if err != nil {
			return err
		}
		if t := e.Meta["identity_table"]; t != "" {
			_, err = s.tx.Exec(ctx, "SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
				pgx.Identifier{s.staging, t}.Sanitize(), e.Meta["identity_column"], last, called)
		} else {
			_, err = s.tx.Exec(ctx, "SELECT setval($1::regclass, $2, $3)",
				pgx.Identifier{s.staging, e.Meta["sequence"]}.Sanitize(), last, called)
		}
		if err != nil {
			return pgFail("restore sequence", err)
		}
		return nil
	case backup.EntryTable:
		t := e.Meta["table"]
		if t == "" {
			return fmt.Errorf("%w: table entry without a table name", backup.ErrCorrupt)
		}
		// pgx answers a failing reader with the server's "COPY from stdin
		// failed" (SQLSTATE 57014) and drops the reader's error: keep it, it
		// names the missing or corrupt chunk.
		rec := &errRecorder{r: body}
		tag, err := s.tx.Conn().PgConn().CopyFrom(ctx, rec, "COPY "+pgx.Identifier{s.staging, t}.Sanitize()+" FROM STDIN")
		if rerr := rec.first(); rerr != nil {
			return rerr
		}
		if err != nil {
			return pgFail("copy into table", err)
		}
		if tag.RowsAffected() != e.Rows {
			return fmt.Errorf("%w: table restored %d rows, manifest says %d", backup.ErrCorrupt, tag.RowsAffected(), e.Rows)
		}
		return nil
	default:
		return fmt.Errorf("%w: PostgreSQL sink, entry type %q", backup.ErrSourceKind, e.Type)
	}
}

// errRecorder keeps the first error of the reader it wraps (io.EOF aside).
// pgx reads it on its own goroutine, which may still run when CopyFrom
// returns on a broken connection: hence the lock.
type errRecorder struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.mu.Lock()
		if e.err == nil {
			e.err = err
		}
		e.mu.Unlock()
	}
	return n, err
}

func (e *errRecorder) first() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// parseSequence reads "<last value> <is_called>\n".
func parseSequence(r io.Reader) (int64, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return 0, false, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || !strings.HasSuffix(string(b), "\n") {
		return 0, false, fmt.Errorf("%w: malformed sequence entry", backup.ErrCorrupt)
	}
	last, err1 := strconv.ParseInt(f[0], 10, 64)
	called, err2 := strconv.ParseBool(f[1])
	if err1 != nil || err2 != nil {
		return 0, false, fmt.Errorf("%w: malformed sequence entry", backup.ErrCorrupt)
	}
	return last, called, nil
}

// Commit implements backup.Sink: the staging schema takes the
// destination's name, and the transaction commits.
func (s *Sink) Commit(ctx context.Context) error {
	if s.force {
		if _, err := s.tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+qi(s.Schema)+" CASCADE"); err != nil {
			return pgFail("drop replaced schema", err)
		}
	} else {
		// An empty destination schema (no relations, checked in Begin) is
		// replaced; anything created in it since makes the drop fail.
		if _, err := s.tx.Exec(ctx, "DROP SCHEMA IF EXISTS "+qi(s.Schema)+" RESTRICT"); err != nil {
			return fmt.Errorf("%w: destination schema changed during the restore", backup.ErrExists)
		}
	}
	if _, err := s.tx.Exec(ctx, "ALTER SCHEMA "+qi(s.staging)+" RENAME TO "+qi(s.Schema)); err != nil {
		return pgFail("rename staging schema", err)
	}
	if err := fixSearchPath(ctx, s.tx, s.Schema, s.staging); err != nil {
		return err
	}
	err := s.tx.Commit(ctx)
	s.conn.Release()
	s.tx, s.conn = nil, nil
	if err != nil {
		return pgFail("commit restore", err)
	}
	return nil
}

// Abort implements backup.Sink: the transaction rolls back, and with it the
// staging schema.
func (s *Sink) Abort(ctx context.Context) error {
	if s.tx == nil {
		return nil
	}
	err := s.tx.Rollback(context.WithoutCancel(ctx))
	s.conn.Release()
	s.tx, s.conn = nil, nil
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return pgFail("roll back restore", err)
	}
	return nil
}

// Check implements backup.Checker: it re-reads the restored schema in one
// snapshot, regenerates its DDL and each table's COPY stream, and compares
// their checksums and row counts with the manifest.
func (s *Sink) Check(ctx context.Context, m *backup.Manifest, sum func(io.Reader) ([]backup.ChunkRef, int64, error)) ([]string, error) {
	tx, err := s.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, pgFail("check", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := pinSession(ctx, tx, s.Schema); err != nil {
		return nil, err
	}
	var tables []string
	for _, e := range m.Entries {
		if e.Type == backup.EntryTable {
			tables = append(tables, e.Meta["table"])
		}
		if e.Type == backup.EntrySchema && e.Path == preDataPath && e.Meta[skipRowsMeta] != "" {
			// Backed up without their rows (Source.SkipRows): their DDL
			// is in schema.sql, so they are described too.
			tables = append(tables, strings.Split(e.Meta[skipRowsMeta], ",")...)
		}
	}
	d, err := describe(ctx, tx, s.Schema, tables)
	if err != nil {
		return nil, err
	}
	byName := map[string]tableData{}
	for _, t := range d.tables {
		byName[t.name] = t
	}
	var mm []string
	compare := func(i int, e *backup.Entry, r io.Reader) error {
		refs, size, err := sum(r)
		if err != nil {
			return err
		}
		if size != e.Size || !slices.Equal(refs, e.Chunks) {
			mm = append(mm, fmt.Sprintf("entry %d (%s): checksum differs", i, e.Type))
		}
		return nil
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		switch {
		case e.Type == backup.EntrySchema && e.Path == preDataPath:
			err = compare(i, e, strings.NewReader(d.preData))
		case e.Type == backup.EntrySchema && e.Path == postDataPath:
			err = compare(i, e, strings.NewReader(d.postData))
		case e.Type == backup.EntrySchema && e.Path == routinesPath:
			err = compare(i, e, strings.NewReader(d.routines))
		case e.Type == backup.EntryTable:
			var n int64
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s.Schema, e.Meta["table"]}.Sanitize()).Scan(&n); err != nil {
				return mm, pgFail("check: count", err)
			}
			if n != e.Rows {
				mm = append(mm, fmt.Sprintf("entry %d (table): %d rows, manifest %d", i, n, e.Rows))
			}
			pr, pw := io.Pipe()
			go func() {
				_, err := tx.Conn().PgConn().CopyTo(ctx, pw, byName[e.Meta["table"]].copyOut(s.Schema))
				pw.CloseWithError(err)
			}()
			err = compare(i, e, bufio.NewReaderSize(pr, 1<<20))
			pr.Close()
		}
		if err != nil {
			return mm, pgFail("check", err)
		}
	}
	return mm, nil
}

// Cleanup drops the schema of a scratch sink (DropAfterCheck); Drill calls
// it when the drill ends.
func (s *Sink) Cleanup(ctx context.Context) error {
	if !s.DropAfterCheck {
		return nil
	}
	if _, err := s.Pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+qi(s.Schema)+" CASCADE"); err != nil {
		return pgFail("drop scratch schema", err)
	}
	return nil
}
