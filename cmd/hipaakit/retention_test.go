package main

import (
	"context"
	"errors"
	"github.com/hipaakit/hipaakit"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/signing"
)

func drWriteKey(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if _, err := signing.LoadOrCreate(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// retention sweep against PostgreSQL: the source tables, key store,
// ledger, holds and cursor all live in one schema.
func TestCLIRetentionSweepPostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	// The disposal ledger's schema beside it (hipaakit.LedgerSchemaSuffix).
	t.Cleanup(func() { pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`_ledger" CASCADE`) })
	url := hipaakittest.PostgresURL()
	if strings.Contains(url, "?") {
		url += "&search_path=" + schema
	} else {
		url += "?search_path=" + schema
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE encounters (id bigserial PRIMARY KEY, patient_id text NOT NULL, created_at timestamptz NOT NULL, closed_at timestamptz);
		INSERT INTO encounters (patient_id, created_at, closed_at) VALUES
			('patient-old', '2001-01-01Z', NULL),
			('patient-old', '2002-01-01Z', '2003-01-01Z'),
			('patient-recent', '2001-01-01Z', now()),
			('patient-held', '2001-01-01Z', NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	keys := pgstore.New(pool, pgstore.Config{})
	kek, _ := localkek.New(make([]byte, 32))
	v, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	for _, s := range []string{"patient-old", "patient-recent", "patient-held"} {
		if _, err := v.Seal(ctx, phi.Binding{Subject: s, Field: "dob"}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	env := map[string]string{
		envDatabaseURL:             url,
		hipaakit.EnvSigningKeyFile: drWriteKey(t, tmp, "signing.pem"),
	}
	policies := filepath.Join(tmp, "policies.json")
	os.WriteFile(policies, []byte(`{"format": "hipaakit-retention-policies", "version": 1,
		"policies": [{"kind": "encounter", "keep": "P6Y"}],
		"source": {"postgres_tables": [{"name": "encounters", "kind": "encounter", "subject": "patient_id", "id": "id", "created": "created_at", "last_in_effect": "closed_at"}]}}`), 0o600)

	if code, _, stderr := runCLI(t, env, "hold", "set", "--subject", "patient-held", "--reason", "subpoena", "--by", "counsel"); code != exitOK {
		t.Fatalf("hold set: %d %s", code, stderr)
	}
	code, out, stderr := runCLI(t, env, "retention", "sweep", "--policies", policies, "--dry-run")
	if code != exitOK || !strings.Contains(out, "would shred patient-old (encounter)") || strings.Contains(out, "would shred patient-recent") ||
		!strings.Contains(out, "3 evaluated, 1 shredded, 2 kept (1 held), 0 failed (dry run") {
		t.Fatalf("dry run: %d %q %q", code, out, stderr)
	}
	if _, err := keys.Get(ctx, "patient-old"); err != nil {
		t.Fatalf("dry run shredded: %v", err)
	}
	code, out, stderr = runCLI(t, env, "retention", "sweep", "--policies", policies)
	if code != exitOK || !strings.Contains(out, "1 shredded") || !strings.Contains(out, "encounter  4        2         1     0") {
		t.Fatalf("sweep: %d %q %q", code, out, stderr)
	}
	for s, want := range map[string]error{"patient-old": phi.ErrShredded, "patient-recent": nil, "patient-held": nil} {
		if _, err := keys.Get(ctx, s); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Fatalf("%s: %v, want %v", s, err, want)
		}
	}
	if code, out, _ := runCLI(t, env, "disposal", "verify-ledger"); code != exitOK || !strings.Contains(out, "1 disposals") {
		t.Fatalf("verify-ledger: %d %q", code, out)
	}
	// shred and verify-certificate in PostgreSQL mode.
	code, cert, stderr := runCLI(t, env, "shred", "patient-recent", "--reason", "patient request", "--kinds", "encounter")
	if code != exitOK {
		t.Fatalf("shred: %d %q", code, stderr)
	}
	pubPath := signing.PublicKeyPath(env[hipaakit.EnvSigningKeyFile])
	certPath := filepath.Join(tmp, "cert.json")
	os.WriteFile(certPath, []byte(cert), 0o644)
	// Each writing run appends to a ledger stream of its own.
	if code, out, _ := runCLI(t, env, "disposal", "verify-certificate", "--public-key", pubPath, certPath); code != exitOK || !strings.Contains(out, "ledger   disposal-cli-") {
		t.Fatalf("verify: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, env, "shred", "patient-held", "--reason", "r"); code != exitCheck || !strings.Contains(stderr, "legal hold") {
		t.Fatalf("held: %d %q", code, stderr)
	}
	bad := filepath.Join(tmp, "bad.json")
	os.WriteFile(bad, []byte(`{"format": "hipaakit-retention-policies", "version": 1, "policies": [{"kind": "encounter", "keep": "six years"}]}`), 0o600)
	if code, _, _ := runCLI(t, env, "retention", "sweep", "--policies", bad); code != exitUsage {
		t.Fatalf("bad policy file: %d", code)
	}
}

func TestCLIPurgeAuditFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, err := signing.LoadOrCreate(filepath.Join(dir, hipaakit.FileSigningKey))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC))
	log, err := audit.OpenFileLog(ctx, filepath.Join(dir, "audit"), audit.FileOptions{Signer: key, Clock: clk, SegmentMaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"patient-a", "patient-held", "patient-b"} {
		if err := log.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Target: audit.Target{Subject: s}}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(24 * time.Hour)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HIPAAKIT_DATA_DIR": dir}
	policies := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(policies, []byte(`{"format":"hipaakit-retention-policies","version":1,"policies":[{"kind":"audit","keep":"P6Y"}]}`), 0o600)
	if code, _, _ := runCLI(t, env, "hold", "set", "--subject", "patient-held", "--reason", "subpoena", "--by", "counsel"); code != exitOK {
		t.Fatal(code)
	}
	code, out, stderr := runCLI(t, env, "retention", "purge-audit", "--policies", policies)
	if code != exitOK || !strings.Contains(out, "audit segments purged: 1 ") || !strings.Contains(out, "stopped by held") {
		t.Fatalf("purge-audit: %d %q %q", code, out, stderr)
	}
	noAudit := filepath.Join(t.TempDir(), "q.json")
	os.WriteFile(noAudit, []byte(`{"format":"hipaakit-retention-policies","version":1,"policies":[{"kind":"encounter","keep":"P6Y"}]}`), 0o600)
	if code, _, stderr := runCLI(t, env, "retention", "purge-audit", "--policies", noAudit); code != exitUsage || !strings.Contains(stderr, "no policy for the audit trail") {
		t.Fatalf("no audit policy: %d %q", code, stderr)
	}
}
