package report_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/disposal/pgledger"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// TestCollectPostgres reads a deployment on PostgreSQL — keys, audit trail,
// users of two tenants and holds in one schema, the disposal ledger in
// another — while its writers stay open, and checks that the running
// writers are not disturbed.
func TestCollectPostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	lpool, lschema := hipaakittest.PostgresSchema(t)
	must(t, pgstore.Migrate(ctx, pool))
	must(t, pgaudit.Migrate(ctx, pool))
	must(t, pgauth.MigrateUsers(ctx, pool))
	must(t, pgretention.Migrate(ctx, pool))
	must(t, pgledger.Migrate(ctx, lpool))

	clk := tickingClock()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	dataDir := t.TempDir()
	kek, err := localkek.FromFile(keyFile(dataDir))
	must(t, err)
	keys := pgstore.New(pool, pgstore.Config{})
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "api-1", Signer: priv, Clock: clk, CheckpointEvery: 3})
	must(t, err)
	defer w.Close(ctx)
	vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek, Audit: w, Clock: clk})
	must(t, err)
	for _, s := range []string{"patient-1", "patient-2", "patient-3"} {
		sealed, err := vault.Seal(ctx, phi.Binding{Subject: s, Field: "dob"}, []byte(canaryPHI))
		must(t, err)
		must(t, w.Write(ctx, audit.Event{Actor: audit.Actor{UserID: "u-1"}, Action: audit.ActionCreate, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Subject: s, RecordType: "patient", RecordID: s, Field: "dob"}, Change: &audit.Change{New: sealed}}))
	}
	must(t, w.Write(ctx, audit.Event{Actor: audit.Actor{UserID: "u-er", Emergency: true, EmergencyReason: "arrest"},
		Action: audit.ActionEmergencyAccess, Outcome: audit.OutcomeSuccess, Reason: "start"}))

	users := pgauth.NewUserStore(pool)
	for _, u := range []struct {
		tenant, name string
		mfa          bool
	}{{"clinic-a", "alice", true}, {"clinic-b", "bob", true}, {"clinic-b", "carol", false}} {
		user := &auth.User{ID: auth.NewUserID(), TenantID: u.tenant, Name: u.name, Status: auth.StatusActive}
		if u.mfa {
			user.MFA = auth.MFA{TOTPSecret: []byte("sealed"), TOTPActive: true, TOTPDigits: 6, TOTPPeriod: 30, TOTPAlgorithm: "SHA1"}
		}
		must(t, users.Create(ctx, user))
	}

	ls, err := pgledger.Open(ctx, lpool, pgledger.Options{Signer: priv, Clock: clk})
	must(t, err)
	ledger := disposal.NewLedger(ls)
	defer ledger.Close()
	holds, err := retention.NewRegistry(retention.RegistryConfig{Holds: pgretention.NewHoldStore(pool), Audit: w, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	_, err = holds.Set(ctx, retention.HoldRequest{Kind: "patient", Reason: canaryReason, SetBy: "u-privacy"})
	must(t, err)
	sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: ledger, Audit: w, Holds: disposal.NoHolds{}, SigningKey: priv, Clock: clk})
	must(t, err)
	_, err = sh.Shred(ctx, "patient-3", "request")
	must(t, err)

	target, err := backup.NewDirTarget(filepath.Join(dataDir, "backups"))
	must(t, err)
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: w, Actor: audit.Actor{UserID: "system:backup"}, Clock: clk})
	must(t, err)
	m, err := repo.Backup(ctx, backup.KeyStoreSource{Store: keys, Name: "keys"})
	must(t, err)
	_, err = repo.Verify(ctx, m.ID, backup.VerifyOptions{})
	must(t, err)
	_, err = repo.Drill(ctx, backup.DrillOptions{Kind: "keystore", Ledger: ledger, ScratchDir: t.TempDir()})
	must(t, err)

	cfg := (&deployment{dir: dataDir, pub: pub}).config()
	cfg.DatabaseURL, cfg.DatabaseSchema, cfg.LedgerSchema = pgURLWithoutPassword(t), schema, lschema
	before := snapshot(t, dataDir)
	ev, err := report.Collect(ctx, cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	sameSnapshot(t, before, snapshot(t, dataDir))
	if len(ev.Notes) != 0 {
		t.Errorf("notes: %q", ev.Notes)
	}
	if id := ev.Identity; id == nil || id.Users != 3 || !id.UniqueIDs || id.UsersWithoutMFA != 1 || id.EmergencySessions != 1 {
		t.Errorf("identity: %+v", id)
	}
	if e := ev.Encryption; e == nil || e.KeyStore != "postgresql" || e.Subjects != 2 || e.Shredded != 1 {
		t.Errorf("encryption: %+v", e)
	}
	if a := ev.Audit; a == nil || !a.Verified || a.Events < 5 || a.Checkpoints < 1 || !a.Last.After(a.First) {
		t.Errorf("audit: %+v", a)
	}
	if d := ev.Disposal; d == nil || !d.LedgerVerified || d.Shreds != 1 || d.Certificates != 1 {
		t.Errorf("disposal: %+v", d)
	}
	if r := ev.Retention; r == nil || r.Holds != 1 {
		t.Errorf("retention: %+v", r)
	}
	if b := ev.Backup; b == nil || b.Backups != 1 || !b.LastDrillPass || b.LastDrillRTO <= 0 || !b.LedgerReplayed {
		t.Errorf("backup: %+v", b)
	}
	rep := report.Build(ev)
	if r := row(t, rep, "164.312(d)"); r.Status != report.NotMet {
		t.Errorf("164.312(d) with a user without MFA: %+v", r)
	}
	if r := row(t, rep, "164.312(b)"); r.Status != report.Met {
		t.Errorf("164.312(b): %+v", r)
	}
	// Issue 20 item 3: this deployment backs up and drills its key store
	// only, so users, holds and the disposal ledger are not shown to
	// restore: disaster recovery is not met, and the gap says so.
	if r := row(t, rep, "164.308(a)(7)(ii)(B)"); r.Status != report.NotMet ||
		!strings.Contains(strings.Join(r.Gaps, ";"), "no drill of a whole-deployment backup set: nothing shows that keys, audit, users, holds, ledger") {
		t.Errorf("164.308(a)(7)(ii)(B) with a key store drill only: %+v", r)
	}

	// The running writers still own their streams.
	must(t, w.Write(ctx, audit.Event{Actor: audit.Actor{UserID: "u-1"}, Action: audit.ActionRead, Outcome: audit.OutcomeSuccess}))
	_, err = sh.Shred(ctx, "patient-2", "request")
	must(t, err)

	// A ledger checkpoint key the configuration does not trust fails the
	// ledger's verification, not Collect.
	cfg.LedgerKeys = []string{pemKey(make([]byte, 32))}
	cfg.AuditKeys = []string{pemKey(make([]byte, 32))}
	ev, err = report.Collect(ctx, cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	if ev.Disposal == nil || ev.Disposal.LedgerVerified || ev.Disposal.LedgerError == "" || ev.Audit.Verified {
		t.Errorf("untrusted keys: disposal %+v audit %+v", ev.Disposal, ev.Audit)
	}
}

// pgURLWithoutPassword returns the test server's URL without its password,
// which goes to PGPASSWORD (a ServiceConfig never holds one).
func pgURLWithoutPassword(t *testing.T) string {
	u, err := url.Parse(hipaakittest.PostgresURL())
	must(t, err)
	if pw, ok := u.User.Password(); ok {
		t.Setenv("PGPASSWORD", pw)
	}
	public, err := serviceconfig.PublicDatabaseURL(hipaakittest.PostgresURL())
	must(t, err)
	return public
}

// TestCollectPostgresUnreachable: an unreachable server is an operational
// error whose message does not carry the URL's password.
func TestCollectPostgresUnreachable(t *testing.T) {
	cfg := (&deployment{dir: t.TempDir(), pub: make([]byte, 32)}).config()
	cfg.DatabaseURL = "postgres://report@127.0.0.1:1/none?connect_timeout=2"
	t.Setenv("PGPASSWORD", "S3CRETPW")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := report.Collect(ctx, cfg, fixtureStart)
	if err == nil || !strings.Contains(err.Error(), "cannot reach PostgreSQL at 127.0.0.1:1") || strings.Contains(err.Error(), "S3CRETPW") {
		t.Fatalf("err = %v", err)
	}
}
