package pgsource_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// chunkObjectOf returns the object name of a chunk ("chunks/ab/ab…").
func chunkObjectOf(c backup.ChunkRef) string { return "chunks/" + c.Name[:2] + "/" + c.Name }

// TestCorruptChunkFailsRestore: a flipped bit or a truncation in a table's
// chunk fails the restore with ErrCorrupt naming that chunk, not with the
// server's "COPY from stdin failed", and nothing is restored.
func TestCorruptChunkFailsRestore(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	seed(t, ctx, pool)
	for name, damage := range map[string]func([]byte) []byte{
		"flipped bit": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"truncated":   func(b []byte) []byte { return b[:len(b)-7] },
	} {
		t.Run(name, func(t *testing.T) {
			repo := newRepo(t)
			m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			var obj string
			for _, e := range m.Entries {
				if e.Meta["table"] == "audit_copy" {
					obj = chunkObjectOf(e.Chunks[len(e.Chunks)/2])
				}
			}
			rc, err := repo.Target().Open(ctx, obj)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := repo.Target().Put(ctx, obj, damage(b)); err != nil {
				t.Fatal(err)
			}
			dest := schema + "_bad"
			dropSchema(t, pool, dest)
			_, err = repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{})
			var oe *backup.ObjectError
			if !errors.Is(err, backup.ErrCorrupt) || !errors.As(err, &oe) || oe.Object != obj {
				t.Fatalf("restore of a damaged chunk: %v, want ErrCorrupt naming %s", err, obj)
			}
			var pe *pgsource.Error
			if errors.As(err, &pe) {
				t.Fatalf("the server's error replaced the chunk's: %v", err)
			}
			var n int
			pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1 OR nspname LIKE 'hipaakit_restore_%'", dest).Scan(&n)
			if n != 0 {
				t.Fatal("a failed restore left a schema behind")
			}
		})
	}
}

// hostilePool opens a pool on schema whose every connection carries the
// given session settings.
func hostilePool(t *testing.T, schema string, params map[string]string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(hipaakittest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	cfg.MaxConns = 2 // connections are reused between the steps
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestHostileSessionSettings: a backup taken under DateStyle 'SQL, DMY',
// IntervalStyle sql_standard, TimeZone Asia/Kolkata and extra_float_digits
// 0, restored and drilled under other settings, holds exactly the values
// backed up: dates, intervals, instants and every bit of each float8.
func TestHostileSessionSettings(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	_, err := pool.Exec(ctx, `CREATE TABLE vals (id int PRIMARY KEY, d date, ts timestamptz, t timestamp, iv interval, f float8, r real);
		INSERT INTO vals VALUES
		(1, '1970-01-02', '1970-01-02 00:00:00.123456+00', '2001-02-03 04:05:06', '1 year 2 mons 3 days 04:05:06.789', 0.1, 0.1),
		(2, '2026-12-31', '2026-03-29 01:30:00+00', '1999-12-31 23:59:59.999999', '-1 days +02:03:00', 1.0/3, 1.0/3),
		(3, '0044-03-15 BC', '2000-02-29 12:00:00+00', 'infinity', '-3 mons 1 day -00:00:01', 2.2250738585072014e-308, 3.4028235e38),
		(4, NULL, '-infinity', NULL, '1 day 1 hour', 'NaN', '-Infinity')`)
	if err != nil {
		t.Fatal(err)
	}
	hostile := hostilePool(t, schema, map[string]string{
		"DateStyle": "SQL, DMY", "IntervalStyle": "sql_standard", "TimeZone": "Asia/Kolkata", "extra_float_digits": "0",
	})
	other := hostilePool(t, schema, map[string]string{
		"DateStyle": "German, MDY", "IntervalStyle": "iso_8601", "TimeZone": "America/St_Johns", "extra_float_digits": "-15",
	})
	repo := newRepo(t)
	for i := 0; i < 3; i++ { // the pool's connections are reused
		if _, err := hostile.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	m, err := repo.Backup(ctx, pgsource.Source{Pool: hostile, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	dest := schema + "_restored"
	dropSchema(t, pool, dest)
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(other, dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	var diff int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "vals"}.Sanitize()+` a
		FULL JOIN `+pgx.Identifier{dest, "vals"}.Sanitize()+` b USING (id)
		WHERE a.d IS DISTINCT FROM b.d OR a.ts IS DISTINCT FROM b.ts OR a.t IS DISTINCT FROM b.t
			OR a.iv::text IS DISTINCT FROM b.iv::text
			OR float8send(a.f) IS DISTINCT FROM float8send(b.f) OR float4send(a.r) IS DISTINCT FROM float4send(b.r)`).Scan(&diff)
	if err != nil || diff != 0 {
		t.Fatalf("%d row(s) differ after the restore (%v)", diff, err)
	}
	// A drill under the other settings passes (the check pins them too).
	if rep, err := repo.Drill(ctx, backup.DrillOptions{ID: m.ID, Sink: pgsource.NewScratchSink(other)}); err != nil || !rep.Pass {
		t.Fatalf("drill: %+v, %v", rep, err)
	}
}
