package pgsource_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// poolIn returns a pool whose connections have search_path set to schema.
func poolIn(t *testing.T, schema string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(hipaakittest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// rejection runs stmt in its own transaction and returns the server's
// error (nil if it succeeded, which is then rolled back).
func rejection(t *testing.T, pool *pgxpool.Pool, stmt string) *pgconn.PgError {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(context.Background(), stmt)
	var pe *pgconn.PgError
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("%s: %v", stmt, err)
	}
	return pe
}

// TestRestoredAuditTrailStaysAppendOnly: a pgaudit (and pgledger) schema
// restored into another schema rejects UPDATE, DELETE and TRUNCATE of its
// records, checkpoints and purges exactly as the original does (its
// functions and triggers are restored), its Migrate is a no-op, its
// partition function creates partitions in the restored schema with their
// TRUNCATE guard, and a drill of the backup passes.
func TestRestoredAuditTrailStaysAppendOnly(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := pgledger.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `SELECT hipaakit_audit_ensure_partitions('2026-01-01', 2);
		INSERT INTO hipaakit_audit_records
		SELECT 's', g, '2026-01-01'::timestamptz + g * interval '1 day', g, 0, 'read', 'ok', 'subj', 'actor', 'note', g::text,
			decode(md5(g::text), 'hex'), convert_to('line ' || g, 'UTF8')
		FROM generate_series(1, 40) g;
		INSERT INTO hipaakit_audit_checkpoints (stream, seq, reason, line) VALUES ('s', 40, 'test', '\x00');
		INSERT INTO hipaakit_audit_purges (partition, range_start, range_end) VALUES ('p', now(), now())`)
	if err != nil {
		t.Fatal(err)
	}
	repo := newRepo(t)
	m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	dest := schema + "_restored"
	dropSchema(t, pool, dest)
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	restored := poolIn(t, dest)
	for _, stmt := range []string{
		"UPDATE hipaakit_audit_records SET outcome = 'x'",
		"DELETE FROM hipaakit_audit_records",
		"TRUNCATE hipaakit_audit_records",
		"TRUNCATE hipaakit_audit_records_p202601",
		"UPDATE hipaakit_audit_checkpoints SET reason = 'x'",
		"DELETE FROM hipaakit_audit_checkpoints",
		"TRUNCATE hipaakit_audit_checkpoints",
		"UPDATE hipaakit_audit_purges SET partition = 'x'",
		"DELETE FROM hipaakit_audit_purges",
	} {
		orig, got := rejection(t, pool, stmt), rejection(t, restored, stmt)
		if orig == nil {
			t.Fatalf("%s: the original schema accepts it", stmt)
		}
		if got == nil || got.Code != orig.Code || got.Message != orig.Message {
			t.Fatalf("%s: restored schema answers %v, the original %v", stmt, got, orig)
		}
	}

	if err := pgaudit.Migrate(ctx, restored); err != nil {
		t.Fatal(err)
	}
	var created int
	if err := restored.QueryRow(ctx, "SELECT hipaakit_audit_ensure_partitions('2026-03-01', 1)").Scan(&created); err != nil || created != 1 {
		t.Fatalf("partitions created in the restored schema: %d, %v", created, err)
	}
	var where string
	err = restored.QueryRow(ctx, `INSERT INTO hipaakit_audit_records VALUES ('s', 41, '2026-03-02', 41, 0, 'read', 'ok', '', '', 'note', '41',
		'\x00', '\x00') RETURNING tableoid::regclass::text`).Scan(&where)
	if err != nil || where != "hipaakit_audit_records_p202603" {
		t.Fatalf("new record stored in %q, %v", where, err)
	}
	var inDest, inOrig int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE n.nspname = $1), count(*) FILTER (WHERE n.nspname = $2)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = 'hipaakit_audit_records_p202603'`, dest, schema).Scan(&inDest, &inOrig); err != nil || inDest != 1 || inOrig != 0 {
		t.Fatalf("new partition: %d in the restored schema, %d in the original, %v", inDest, inOrig, err)
	}
	if pe := rejection(t, restored, "TRUNCATE hipaakit_audit_records_p202603"); pe == nil || pe.Code != "42501" {
		t.Fatalf("new partition's truncate guard: %v", pe)
	}
	if rep, err := repo.Drill(ctx, backup.DrillOptions{ID: m.ID, Sink: pgsource.NewScratchSink(pool)}); err != nil || !rep.Pass {
		t.Fatalf("drill: %+v, %v", rep, err)
	}
}

// TestUnsupportedRoutineRefused: a function or trigger the restore could
// not recreate faithfully makes the backup fail with an *ObjectError naming
// it, not a backup that silently lacks it.
func TestUnsupportedRoutineRefused(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, ddl, object string }{
		{"aggregate", `CREATE AGGREGATE total(int) (SFUNC = int4pl, STYPE = int)`, "total(integer)"},
		{"foreign search_path", `CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = public AS 'SELECT 1'`, "f()"},
		{"foreign trigger function", `CREATE TABLE t (x int); CREATE TRIGGER guard BEFORE DELETE ON t
			FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()`, "t.guard"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pool, schema := hipaakittest.PostgresSchema(t)
			if _, err := pool.Exec(ctx, c.ddl); err != nil {
				t.Fatal(err)
			}
			_, err := newRepo(t).Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
			var oe *pgsource.ObjectError
			if !errors.As(err, &oe) || !errors.Is(err, pgsource.ErrUnsupportedObject) || oe.Name != c.object {
				t.Fatalf("backup: %v", err)
			}
		})
	}
}

// withoutRoutines is a pgsource.Source as it was before routines.sql
// existed: the same entries but that one.
type withoutRoutines struct{ pgsource.Source }

func (w withoutRoutines) Walk(ctx context.Context, emit func(backup.Item) error) error {
	return w.Source.Walk(ctx, func(it backup.Item) error {
		if it.Path == "routines.sql" {
			return nil
		}
		return emit(it)
	})
}

// TestRestoreWithoutRoutinesRefused: a backup without routines.sql (made
// by an earlier version) that holds hipaakit_migrations is refused, since
// the restored schema would lack the append-only triggers its migrations
// say were applied; AllowWithoutRoutines restores it anyway.
func TestRestoreWithoutRoutinesRefused(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	repo := newRepo(t)
	m, err := repo.Backup(ctx, withoutRoutines{pgsource.Source{Pool: pool, Schema: schema}})
	if err != nil {
		t.Fatal(err)
	}
	dest := schema + "_restored"
	dropSchema(t, pool, dest)
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{}); !errors.Is(err, pgsource.ErrWithoutRoutines) {
		t.Fatalf("restore without routines: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", dest).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused restore created the schema: %d, %v", n, err)
	}
	sink := pgsource.NewSink(pool, dest)
	sink.AllowWithoutRoutines = true
	if _, err := repo.Restore(ctx, m.ID, sink, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}
