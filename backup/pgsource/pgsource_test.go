package pgsource_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const schemaSQL = `
CREATE TYPE visit_status AS ENUM ('planned', 'done', 'it''s cancelled');
CREATE TABLE patients (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  mrn text NOT NULL UNIQUE,
  note text,
  dob date,
  tags text[] DEFAULT '{}'
);
CREATE TABLE visits (
  id serial PRIMARY KEY,
  patient_id bigint NOT NULL REFERENCES patients(id),
  status visit_status NOT NULL DEFAULT 'planned',
  amount numeric(10,2) CHECK (amount >= 0),
  cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED,
  created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_patient ON visits (patient_id);
CREATE TABLE audit_copy (seq bigint, payload bytea);
`

func seed(t testing.TB, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(ctx, schemaSQL); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO patients (mrn, note, dob, tags) VALUES
		('MRN-1', E'tab\there\nnewline \\ backslash', '1970-01-01', '{a,b}'),
		('MRN-2', NULL, NULL, '{}'),
		('MRN-3', 'ünïcödé 🩺', '2001-02-03', '{"x y"}')`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO visits (patient_id, status, amount) SELECT 1 + (g % 3), 'done', g * 1.5 FROM generate_series(1, 500) g;
		INSERT INTO audit_copy SELECT g, decode(md5(g::text), 'hex') FROM generate_series(1, 2000) g`)
	if err != nil {
		t.Fatal(err)
	}
}

func benchKEK(t testing.TB) *localkek.KEK {
	kek, err := localkek.New(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

func newRepo(t testing.TB) *backup.Repository {
	t.Helper()
	kek := benchKEK(t)
	tg, err := backup.NewDirTarget(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := backup.Init(context.Background(), tg, kek, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{UserID: "pg-test"}, ChunkSize: backup.MinChunkSize})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dump returns every table of schema as COPY text, for comparison.
func dump(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema string) string {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var b bytes.Buffer
	for _, tbl := range []string{"patients", "visits", "audit_copy"} {
		b.WriteString("-- " + tbl + "\n")
		if _, err := conn.Conn().PgConn().CopyTo(ctx, &b, "COPY "+pgx.Identifier{schema, tbl}.Sanitize()+" TO STDOUT"); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func dropSchema(t *testing.T, pool *pgxpool.Pool, schema string) {
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
}

func TestBackupRestorePostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	seed(t, ctx, pool)
	repo := newRepo(t)
	m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, e := range m.Entries {
		if e.Type == backup.EntryTable {
			rows[e.Meta["table"]] = e.Rows
		}
	}
	if rows["patients"] != 3 || rows["visits"] != 500 || rows["audit_copy"] != 2000 {
		t.Fatalf("row counts %v", rows)
	}
	if _, err := repo.Verify(ctx, m.ID, backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}

	dest := schema + "_restored"
	dropSchema(t, pool, dest)
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(t, ctx, pool, dest), dump(t, ctx, pool, schema); got != want {
		t.Fatal("restored tables differ from the originals")
	}
	// Sequences, identity, defaults, constraints and indexes came back.
	q := "SET search_path = " + pgx.Identifier{dest}.Sanitize()
	if _, err := pool.Exec(ctx, q+"; INSERT INTO patients (mrn) VALUES ('MRN-4')"); err != nil {
		t.Fatal(err)
	}
	var id, vid int64
	pool.QueryRow(ctx, "SELECT id FROM "+pgx.Identifier{dest, "patients"}.Sanitize()+" WHERE mrn = 'MRN-4'").Scan(&id)
	if id != 4 {
		t.Fatalf("identity continued at %d, want 4", id)
	}
	if _, err := pool.Exec(ctx, q+"; INSERT INTO visits (patient_id, amount) VALUES (4, 2)"); err != nil {
		t.Fatal(err)
	}
	pool.QueryRow(ctx, "SELECT max(id) FROM "+pgx.Identifier{dest, "visits"}.Sanitize()).Scan(&vid)
	if vid != 501 {
		t.Fatalf("serial continued at %d, want 501", vid)
	}
	for name, stmt := range map[string]string{
		"foreign key": "INSERT INTO visits (patient_id) VALUES (999)",
		"unique":      "INSERT INTO patients (mrn) VALUES ('MRN-1')",
		"check":       "INSERT INTO visits (patient_id, amount) VALUES (1, -1)",
		"enum":        "INSERT INTO visits (patient_id, status) VALUES (1, 'bogus')",
	} {
		if _, err := pool.Exec(ctx, q+"; "+stmt); err == nil {
			t.Errorf("%s constraint not restored", name)
		}
	}
	var idx int
	pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'visits_patient'", dest).Scan(&idx)
	if idx != 1 {
		t.Fatal("index not restored")
	}

	// The original schema holds tables: refused, then replaced when forced.
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{}); !errors.Is(err, backup.ErrExists) {
		t.Fatalf("restore over tables: %v, want ErrExists", err)
	}
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{dest, "patients"}.Sanitize()).Scan(&n)
	if n != 3 {
		t.Fatalf("forced restore left %d patients, want 3", n)
	}
	var staging int
	pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'hipaakit_restore_%'").Scan(&staging)
	if staging != 0 {
		t.Fatal("staging schema left behind")
	}
}

// hookSource runs hook after the first item, to write while a backup runs.
type hookSource struct {
	backup.Source
	hook func()
}

func (h hookSource) Walk(ctx context.Context, emit func(backup.Item) error) error {
	first := true
	return h.Source.Walk(ctx, func(it backup.Item) error {
		err := emit(it)
		if first {
			first = false
			h.hook()
		}
		return err
	})
}

func TestBackupIsOneSnapshot(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	seed(t, ctx, pool)
	repo := newRepo(t)
	src := hookSource{Source: pgsource.Source{Pool: pool, Schema: schema}, hook: func() {
		if _, err := pool.Exec(ctx, "INSERT INTO audit_copy VALUES (-1, NULL); DELETE FROM patients WHERE id = 3 AND false"); err != nil {
			t.Error(err)
		}
	}}
	m, err := repo.Backup(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if e.Meta["table"] == "audit_copy" && e.Rows != 2000 {
			t.Fatalf("a row inserted during the backup is in it: %d rows", e.Rows)
		}
	}
}

func TestPostgresDrillAndChosenTables(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	seed(t, ctx, pool)
	repo := newRepo(t)
	m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema, Tables: []string{"audit_copy", "patients"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if e.Meta["table"] == "visits" {
			t.Fatal("a table that was not chosen was backed up")
		}
	}
	sink := pgsource.NewScratchSink(pool)
	rep, err := repo.Drill(ctx, backup.DrillOptions{Sink: sink})
	if err != nil || !rep.Pass {
		t.Fatalf("drill %+v, %v", rep, err)
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", sink.Schema).Scan(&n)
	if n != 0 {
		t.Fatal("scratch schema not dropped after the drill")
	}
	if _, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema, Tables: []string{"nope"}}); err == nil {
		t.Fatal("backup of a missing table succeeded")
	}
}
