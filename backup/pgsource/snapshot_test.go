package pgsource_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/backup/pgsource"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestSnapshotAcrossSchemas: two schemas backed up as one set under one
// held Snapshot hold exactly the rows committed before the hold, although
// both were written to after it and before either member was read; once it
// is released, a backup sees the later rows. A SkipRows table is
// backed up with its structure but none of its rows, restores empty and
// passes the drill; a SkipRows name that is not a table is refused.
func TestSnapshotAcrossSchemas(t *testing.T) {
	ctx := context.Background()
	pool, main := hipaakittest.PostgresSchema(t)
	ledger := main + "_ledger"
	dropSchema(t, pool, ledger)
	if _, err := pool.Exec(ctx, `CREATE TABLE records (id int PRIMARY KEY, v text);
		CREATE TABLE keys (id int PRIMARY KEY, k bytea);
		INSERT INTO records SELECT g, 'r' || g FROM generate_series(1, 100) g;
		INSERT INTO keys SELECT g, '\x00' FROM generate_series(1, 5) g;
		CREATE SCHEMA `+pgx.Identifier{ledger}.Sanitize()+`;
		CREATE TABLE `+pgx.Identifier{ledger, "entries"}.Sanitize()+` (seq int PRIMARY KEY, subject text);
		INSERT INTO `+pgx.Identifier{ledger, "entries"}.Sanitize()+` SELECT g, 's' || g FROM generate_series(1, 10) g`); err != nil {
		t.Fatal(err)
	}
	repo := newRepo(t)
	snap := pgsource.NewSnapshot(pool)
	var once sync.Once
	writeAfterHold := func() {
		// Commits after the snapshot was exported, before any member reads.
		once.Do(func() {
			if _, err := pool.Exec(ctx, `INSERT INTO records SELECT g, 'late' FROM generate_series(101, 150) g;
				INSERT INTO `+pgx.Identifier{ledger, "entries"}.Sanitize()+` VALUES (11, 'late')`); err != nil {
				t.Error(err)
			}
		})
	}
	mainSrc := pgsource.Source{Pool: pool, Schema: main, SkipRows: []string{"keys"}, Snapshot: snap}
	ledgerSrc := pgsource.Source{Pool: pool, Schema: ledger, Snapshot: snap}
	set, err := repo.BackupSet(ctx, backup.SetConfig{Name: "deployment", CutName: "postgres-snapshot",
		Cut: func(ctx context.Context) (func() error, error) {
			release, err := snap.Hold(ctx)
			if err == nil {
				writeAfterHold()
			}
			return release, err
		},
		Parts: []backup.SetPart{{Source: mainSrc, Covers: []string{"records"}}, {Source: ledgerSrc, Covers: []string{"ledger"}}}})
	if err != nil {
		t.Fatal(err)
	}
	rows := func(id string) map[string]int64 {
		m, err := repo.Manifest(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, e := range m.Entries {
			if e.Type == backup.EntryTable {
				out[e.Meta["table"]] = e.Rows
			}
			if e.Path == "schema.sql" && e.Meta["rows_skipped"] != "" {
				out["skipped:"+e.Meta["rows_skipped"]] = 1
			}
		}
		return out
	}
	if got := rows(set.Members[0].ID); len(got) != 2 || got["records"] != 100 || got["skipped:keys"] != 1 {
		t.Fatalf("main schema in the snapshot: %v", got)
	}
	if got := rows(set.Members[1].ID); len(got) != 1 || got["entries"] != 10 {
		t.Fatalf("ledger schema in the snapshot: %v", got)
	}
	if snap.Pool == nil {
		t.Fatal("snapshot lost its pool")
	}
	// Released: a later backup reads its own, newer snapshot.
	m, err := repo.Backup(ctx, ledgerSrc)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(m.ID); got["entries"] != 11 {
		t.Fatalf("after release: %v", got)
	}

	// The skipped table restores empty, with its structure; the drill passes.
	dest := main + "_restored"
	dropSchema(t, pool, dest)
	if _, err := repo.Restore(ctx, set.Members[0].ID, pgsource.NewSink(pool, dest), backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	var nKeys, nRecords int
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+pgx.Identifier{dest, "keys"}.Sanitize()+"), (SELECT count(*) FROM "+
		pgx.Identifier{dest, "records"}.Sanitize()+")").Scan(&nKeys, &nRecords); err != nil || nKeys != 0 || nRecords != 100 {
		t.Fatalf("restored: keys %d, records %d, %v", nKeys, nRecords, err)
	}
	reps, err := repo.DrillSet(ctx, set.ID, func(backup.SetMember) backup.DrillOptions {
		return backup.DrillOptions{Sink: pgsource.NewScratchSink(pool)}
	})
	if err != nil || len(reps) != 2 || !reps[0].Pass || !reps[1].Pass {
		t.Fatalf("set drill: %+v, %v", reps, err)
	}

	_, err = repo.Backup(ctx, pgsource.Source{Pool: pool, Schema: main, SkipRows: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), "SkipRows") {
		t.Fatalf("unknown SkipRows table: %v", err)
	}
}

// TestSnapshotOneHolderAtATime: a second Hold waits for the first release
// (or its context).
func TestSnapshotOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	pool, _ := hipaakittest.PostgresSchema(t)
	snap := pgsource.NewSnapshot(pool)
	release, err := snap.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := snap.Hold(cctx); err == nil {
		t.Fatal("a second Hold did not wait")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil { // idempotent
		t.Fatal(err)
	}
	release2, err := snap.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release2()
}
