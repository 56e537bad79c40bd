package hipaakit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
)

// pgTables returns the tables of schema that are not partitions.
func pgTables(t *testing.T, ctx context.Context, db *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestShredSurvivesPointInTimeRecovery is the test of issue 16, item 5: on
// PostgreSQL, seal, keep a copy of the database as it is (the key store and
// the disposal ledger), shred, put the older copy back (what the
// database's point-in-time recovery or an older dump does) and start: the
// patient stays shredded, because start-up replay consults the ledger's
// mirror outside the database; every other patient opens. Without the
// mirror the same restore brings the patient back, which is what the test
// guards against.
func TestShredSurvivesPointInTimeRecovery(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	cfg, _ := embedded(t, nil)
	cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
	d, err := hipaakit.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSchema(t, d.LedgerSchema); dropSchema(t, schema+"_snap") })
	ledgerSchema := d.LedgerSchema
	sealed := map[string]phi.Sealed{}
	for _, sub := range []string{"patient-1", "patient-2"} {
		if sealed[sub], err = d.Vault.Seal(ctx, phi.Binding{Subject: sub, Field: "name", Tenant: "t1"}, []byte("Jane Doe")); err != nil {
			t.Fatal(err)
		}
	}
	id := pgx.Identifier.Sanitize
	snap := schema + "_snap"
	tables := map[string][]string{schema: {"phi_keysets"}, ledgerSchema: pgTables(t, ctx, pool, ledgerSchema)}
	if len(tables[ledgerSchema]) == 0 {
		t.Fatal("no ledger tables")
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+id(pgx.Identifier{snap})); err != nil {
		t.Fatal(err)
	}
	for s, ts := range tables {
		for _, tb := range ts {
			if _, err := pool.Exec(ctx, "CREATE TABLE "+id(pgx.Identifier{snap, s + "." + tb})+" AS SELECT * FROM "+id(pgx.Identifier{s, tb})); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := d.Shredder.Shred(ctx, "patient-1", "retention expired"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		t.Helper()
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		// As the database's own restore does: below the triggers that keep
		// the ledger append-only.
		if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, "RESET session_replication_role")
		for s, ts := range tables {
			for _, tb := range ts {
				q := "TRUNCATE " + id(pgx.Identifier{s, tb}) + " CASCADE; INSERT INTO " + id(pgx.Identifier{s, tb}) +
					" OVERRIDING SYSTEM VALUE SELECT * FROM " + id(pgx.Identifier{snap, s + "." + tb})
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	check := func(want map[string]error) {
		t.Helper()
		d, err := hipaakit.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for sub, wantErr := range want {
			_, err := d.Vault.Open(ctx, phi.Binding{Subject: sub, Field: "name", Tenant: "t1"}, sealed[sub])
			if wantErr == nil && err != nil || wantErr != nil && !errors.Is(err, wantErr) {
				t.Fatalf("%s after the restore: %v, want %v", sub, err, wantErr)
			}
		}
	}

	// Without the mirror, the older database resurrects patient-1.
	mirror := filepath.Join(cfg.DataDir, hipaakit.DirLedgerMirror)
	aside := mirror + ".aside"
	if err := os.Rename(mirror, aside); err != nil {
		t.Fatal(err)
	}
	restore()
	check(map[string]error{"patient-1": nil, "patient-2": nil})
	if err := os.RemoveAll(mirror); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(aside, mirror); err != nil {
		t.Fatal(err)
	}

	// With it, patient-1 stays shredded and patient-2 opens.
	restore()
	check(map[string]error{"patient-1": phi.ErrShredded, "patient-2": nil})
}

// TestShredSurvivesPointInTimeRecoveryS3Mirror: with backups in S3 the
// disposal ledger is mirrored into the bucket (object lock on it here), so
// a shred survives both the database going back to a moment before it and
// the loss of the data directory: a deployment started on a fresh data
// directory over the older database keeps the patient shredded, every
// other patient opens.
func TestShredSurvivesPointInTimeRecoveryS3Mirror(t *testing.T) {
	ctx := context.Background()
	srv := hipaakittest.S3(t)
	bucket := srv.Bucket(t, true)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	pool, schema := hipaakittest.PostgresSchema(t)
	cfg, _ := embedded(t, nil)
	cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
	cfg.Backup = hipaakit.BackupConfig{S3Bucket: bucket, S3Endpoint: srv.Endpoint, S3Region: srv.Region, S3Prefix: "clinic/"}
	cfg.KEK.KeyFile = filepath.Join(t.TempDir(), "master-key")
	d, err := hipaakit.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ledgerSchema := d.LedgerSchema
	snap := schema + "_snap"
	t.Cleanup(func() { dropSchema(t, ledgerSchema); dropSchema(t, snap) })
	sealed := map[string]phi.Sealed{}
	for _, sub := range []string{"patient-1", "patient-2"} {
		if sealed[sub], err = d.Vault.Seal(ctx, phi.Binding{Subject: sub, Field: "name", Tenant: "t1"}, []byte("Jane Doe")); err != nil {
			t.Fatal(err)
		}
	}
	id := pgx.Identifier.Sanitize
	tables := map[string][]string{schema: {"phi_keysets"}, ledgerSchema: pgTables(t, ctx, pool, ledgerSchema)}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+id(pgx.Identifier{snap})); err != nil {
		t.Fatal(err)
	}
	for s, ts := range tables {
		for _, tb := range ts {
			if _, err := pool.Exec(ctx, "CREATE TABLE "+id(pgx.Identifier{snap, s + "." + tb})+" AS SELECT * FROM "+id(pgx.Identifier{s, tb})); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := d.Shredder.Shred(ctx, "patient-1", "retention expired"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	for s, ts := range tables {
		for _, tb := range ts {
			if _, err := conn.Exec(ctx, "TRUNCATE "+id(pgx.Identifier{s, tb})+" CASCADE; INSERT INTO "+id(pgx.Identifier{s, tb})+
				" OVERRIDING SYSTEM VALUE SELECT * FROM "+id(pgx.Identifier{snap, s + "." + tb})); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn.Exec(ctx, "RESET session_replication_role")
	conn.Release()

	// The data directory (and its file mirror) is gone too.
	fresh := cfg
	fresh.DataDir = filepath.Join(t.TempDir(), "fresh")
	if err := os.MkdirAll(fresh.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, hipaakit.FileSigningKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh.DataDir, hipaakit.FileSigningKey), key, 0o600); err != nil {
		t.Fatal(err)
	}
	d2, err := hipaakit.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if _, err := d2.Vault.Open(ctx, phi.Binding{Subject: "patient-1", Field: "name", Tenant: "t1"}, sealed["patient-1"]); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("patient-1 after the older database and a fresh data directory: %v, want ErrShredded", err)
	}
	if _, err := d2.Vault.Open(ctx, phi.Binding{Subject: "patient-2", Field: "name", Tenant: "t1"}, sealed["patient-2"]); err != nil {
		t.Fatalf("patient-2: %v", err)
	}
}
