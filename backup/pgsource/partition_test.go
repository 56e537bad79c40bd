package pgsource_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestPartitionedAuditTrail: the pgaudit schema (records in monthly range
// partitions) backs up with the partitioned table's rows read through it
// once, restores into the parent so that each row lands in its month's
// partition, keeps the primary key and the indexes on every partition, and
// passes a drill.
func TestPartitionedAuditTrail(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `SELECT hipaakit_audit_ensure_partitions('2026-01-01', 3);
		INSERT INTO hipaakit_audit_records
		SELECT 's', g, '2026-01-01'::timestamptz + g * interval '1 hour', g, 0, 'read', 'ok', 'subj', 'actor', 'note', g::text,
			decode(md5(g::text), 'hex'), convert_to('line ' || g, 'UTF8')
		FROM generate_series(1, 2000) g;
		INSERT INTO hipaakit_audit_checkpoints (stream, seq, reason, line) VALUES ('s', 2000, 'test', '\x00')`)
	if err != nil {
		t.Fatal(err)
	}
	perPartition := func(s string) map[string]int64 {
		rows, err := pool.Query(ctx, `SELECT c.relname, count(*) FROM `+pgx.Identifier{s, "hipaakit_audit_records"}.Sanitize()+` r
			JOIN pg_class c ON c.oid = r.tableoid GROUP BY c.relname`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int64{}
		for rows.Next() {
			var k string
			var v int64
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			m[k] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := perPartition(schema)
	if len(want) != 3 || want["hipaakit_audit_records_p202601"] != 743 {
		t.Fatalf("partitions before the backup: %v", want)
	}

	repo := newRepo(t)
	m, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range m.Entries {
		if e.Type != backup.EntryTable {
			continue
		}
		if strings.HasPrefix(e.Meta["table"], "hipaakit_audit_records_p") {
			t.Fatalf("partition %s backed up on its own: its rows would count twice", e.Meta["table"])
		}
		if e.Meta["table"] == "hipaakit_audit_records" {
			total = e.Rows
		}
	}
	if total != 2000 {
		t.Fatalf("audit records backed up: %d rows, want 2000", total)
	}

	dest := schema + "_restored"
	dropSchema(t, pool, dest)
	if _, err := repo.Restore(ctx, m.ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	got := perPartition(dest)
	if len(got) != len(want) {
		t.Fatalf("restored partitions %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("restored partitions %v, want %v", got, want)
		}
	}
	var diff int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "hipaakit_audit_records"}.Sanitize()+` a
		FULL JOIN `+pgx.Identifier{dest, "hipaakit_audit_records"}.Sanitize()+` b USING (stream, seq, logged_at)
		WHERE a.line IS DISTINCT FROM b.line OR a.hash IS DISTINCT FROM b.hash`).Scan(&diff)
	if err != nil || diff != 0 {
		t.Fatalf("%d restored record(s) differ (%v)", diff, err)
	}
	// The primary key is enforced across partitions, and every index
	// exists on every partition (3 indexes + the key's, 3 partitions).
	q := "SET search_path = " + pgx.Identifier{dest}.Sanitize()
	if _, err := pool.Exec(ctx, q+`; INSERT INTO hipaakit_audit_records SELECT * FROM hipaakit_audit_records WHERE seq = 5`); err == nil {
		t.Fatal("primary key not restored on the partitions")
	}
	var idx int
	pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE 'hipaakit_audit_records_p%'`, dest).Scan(&idx)
	if idx != 12 {
		t.Fatalf("%d partition indexes restored, want 12", idx)
	}
	if rep, err := repo.Drill(ctx, backup.DrillOptions{ID: m.ID, Sink: pgsource.NewScratchSink(pool)}); err != nil || !rep.Pass {
		t.Fatalf("drill: %+v, %v", rep, err)
	}

	// Naming a partition is refused with its name and its parent's.
	_, err = repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema, Tables: []string{"hipaakit_audit_records_p202602"}})
	if err == nil || !strings.Contains(err.Error(), `"hipaakit_audit_records_p202602"`) || !strings.Contains(err.Error(), `"hipaakit_audit_records"`) {
		t.Fatalf("backup of a partition alone: %v", err)
	}
	// The parent chosen alone brings its partitions.
	m2, err := repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: schema, Tables: []string{"hipaakit_audit_records"}})
	if err != nil || len(m2.Entries) != 4 { // schema.sql, the records, post-data.sql, routines.sql
		t.Fatalf("backup of the parent alone: %v entries, %v", len(m2.Entries), err)
	}
	if rep, err := repo.Drill(ctx, backup.DrillOptions{ID: m2.ID, Sink: pgsource.NewScratchSink(pool)}); err != nil || !rep.Pass {
		t.Fatalf("drill of the parent alone: %+v, %v", rep, err)
	}
}

// TestPartitionElsewhereRefused: a partition outside the schema cannot be
// restored with it; the refusal names the table.
func TestPartitionElsewhereRefused(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	other := schema + "_other"
	dropSchema(t, pool, other)
	_, err := pool.Exec(ctx, `CREATE TABLE ledger (at date NOT NULL, v int) PARTITION BY RANGE (at);
		CREATE SCHEMA `+pgx.Identifier{other}.Sanitize()+`;
		CREATE TABLE `+pgx.Identifier{other, "ledger_2026"}.Sanitize()+` PARTITION OF ledger FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newRepo(t).Backup(ctx, pgsource.Source{Pool: pool, Schema: schema})
	if err == nil || !strings.Contains(err.Error(), `"ledger"`) || !strings.Contains(err.Error(), `"ledger_2026"`) {
		t.Fatalf("backup with a partition in another schema: %v", err)
	}
	var pe *pgsource.Error
	if errors.As(err, &pe) {
		t.Fatalf("refusal is a server error: %v", err)
	}
}
