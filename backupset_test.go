package hipaakit_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/retention"
)

// TestWholeDeploymentSet: on either store, BackupSet covers every part of
// DeploymentParts (users, holds, the disposal ledger, the emergency log and
// the trusted public keys with the records, keys and audit trail), and
// DrillSet restores each member into scratch space and compares it with its
// manifest (the audit trail also verifies); the drill's set event names
// every part. On PostgreSQL the two schemas are read in one snapshot and
// the users, holds, audit and ledger rows are in the set; the key table's
// rows are not (the key store member holds them, restored through the
// ledger).
func TestWholeDeploymentSet(t *testing.T) {
	for _, store := range []string{"embedded", "postgres"} {
		t.Run(store, func(t *testing.T) {
			ctx := context.Background()
			cfg, clk := embedded(t, nil)
			if store == "postgres" {
				pool, schema := hipaakittest.PostgresSchema(t)
				if _, err := pool.Exec(ctx, "CREATE TABLE records (id int PRIMARY KEY, sealed bytea)"); err != nil {
					t.Fatal(err)
				}
				cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
				cfg.AppTables = []string{"records"}
				t.Cleanup(func() { dropSchema(t, schema+hipaakit.LedgerSchemaSuffix) })
			} else {
				cfg.AppDirs = []string{"records"}
				if err := os.MkdirAll(filepath.Join(cfg.DataDir, "records"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(cfg.DataDir, "records", "r1"), []byte("sealed"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d := open(t, cfg)
			login(t, d, clk, "alice", "admin")
			if _, err := d.Holds.Set(ctx, retention.HoldRequest{Subject: "patient-2", Reason: "litigation", SetBy: "alice"}); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"patient-1", "patient-2"} {
				if _, err := d.Vault.Seal(ctx, phi.Binding{Subject: sub, Field: "name", Tenant: "t1"}, []byte("Jane Doe")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := d.Shredder.Shred(ctx, "patient-1", "retention expired"); err != nil {
				t.Fatal(err)
			}
			set, err := d.BackupSet(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range hipaakit.DeploymentParts() {
				if !slices.Contains(set.Covered(), p) {
					t.Fatalf("the set covers %v, not %s", set.Covered(), p)
				}
			}
			if !slices.Contains(set.Covered(), hipaakit.PartRecords) {
				t.Fatalf("the set covers no records: %v", set.Covered())
			}
			wantCut := map[string]string{"embedded": "ordered", "postgres": "postgres-snapshot+ordered"}[store]
			if set.Cut != wantCut {
				t.Fatalf("cut %q, want %q", set.Cut, wantCut)
			}
			if store == "postgres" {
				checkPGSetRows(t, ctx, d, set)
			}

			results, err := d.DrillSet(ctx, "")
			if err != nil || len(results) != len(set.Members) {
				t.Fatalf("DrillSet: %d results, %v", len(results), err)
			}
			for _, r := range results {
				if r.Err != nil || !r.Report.Pass || len(r.Covers) == 0 {
					t.Fatalf("drill of %s (%v): %v %+v", r.Kind, r.Covers, r.Err, r.Report)
				}
			}
			var setEvent *audit.Event
			for rec, err := range d.Audit.Search(ctx, audit.Filter{}) {
				if err != nil {
					t.Fatal(err)
				}
				if rec.Event.Action == audit.ActionRestoreDrill && rec.Event.Attrs["scope"] == "set" {
					e := rec.Event
					setEvent = &e
				}
			}
			if setEvent == nil || setEvent.Outcome != audit.OutcomeSuccess || setEvent.Attrs["set"] != set.ID {
				t.Fatalf("set drill event %+v", setEvent)
			}
			for _, p := range hipaakit.DeploymentParts() {
				if !slices.Contains(strings.Split(setEvent.Attrs["covers"], ","), p) {
					t.Fatalf("the set drill event covers %q, not %s", setEvent.Attrs["covers"], p)
				}
			}
		})
	}
}

// checkPGSetRows: the main schema's member holds the users, the hold, the
// audit records and the records table, and the key table and the
// login-challenge key's table without rows;
// the ledger's member holds the shred.
func checkPGSetRows(t *testing.T, ctx context.Context, d *hipaakit.Deployment, set *backup.Set) {
	t.Helper()
	rows := map[string]int64{}
	skipped := ""
	for _, mem := range set.Members {
		if mem.Source.Kind != "postgres" {
			continue
		}
		m, err := d.Backups.Manifest(ctx, mem.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range m.Entries {
			if e.Type == backup.EntryTable {
				rows[mem.Source.Name+"."+e.Meta["table"]] = e.Rows
			}
			if e.Path == "schema.sql" && mem.Source.Name == d.Schema {
				skipped = e.Meta["rows_skipped"]
			}
		}
	}
	for _, tbl := range []string{"auth_users", "hipaakit_legal_holds", "hipaakit_audit_records"} {
		if rows[d.Schema+"."+tbl] == 0 {
			t.Fatalf("no rows of %s in the set: %v", tbl, rows)
		}
	}
	if _, ok := rows[d.Schema+".records"]; !ok {
		t.Fatalf("the records table is not in the set: %v", rows)
	}
	if _, ok := rows[d.Schema+".phi_keysets"]; ok || !strings.Contains(skipped, "phi_keysets") {
		t.Fatalf("key table rows in the schema member (skipped %q)", skipped)
	}
	// The login-challenge key is run-time state: a restore draws a new one.
	if _, ok := rows[d.Schema+".hipaakit_challenge_keys"]; ok || !strings.Contains(skipped, "hipaakit_challenge_keys") {
		t.Fatalf("challenge key rows in the schema member (skipped %q)", skipped)
	}
	ledgerRows := int64(0)
	for k, n := range rows {
		if strings.HasPrefix(k, d.LedgerSchema+".") {
			ledgerRows += n
		}
	}
	if ledgerRows == 0 {
		t.Fatalf("no ledger rows in the set: %v", rows)
	}
}
