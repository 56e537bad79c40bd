package report_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	authfile "github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/serviceconfig"
	"github.com/hipaakit/hipaakit/signing"
)

// canaryPHI is sealed into a patient's record; no report may ever show it.
const canaryPHI = "CANARY-PHI-REPORT-999-00-4321"

// canaryReason is free text an operator typed into a hold and a shred;
// the report counts holds and shreds and must not repeat their reasons.
const canaryReason = "CANARY-REASON-court-order-4321"

var fixtureStart = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// tickingClock advances 100 ms on every reading, so that measured durations
// (a drill's RTO) are positive and times are distinct.
func tickingClock() clock.Clock {
	var n atomic.Int64
	return clock.Func(func() time.Time { return fixtureStart.Add(time.Duration(n.Add(1)) * 100 * time.Millisecond) })
}

// deployment is a data directory written by the SDK's own packages, as a
// service built with hipaakit leaves it.
type deployment struct {
	dir     string
	pub     ed25519.PublicKey
	sealed  phi.Sealed
	clk     clock.Clock
	auditL  *audit.FileLog
	users   *authfile.UserStore
	ledger  *disposal.Ledger
	backups int // backups in the repository
	closers []func() error
}

// newDeployment builds the data directory: keys (filestore + localkek) with
// three subjects, one holding the canary; an audit trail with reads, writes
// and an emergency access; three users (two active with TOTP, one disabled
// without); a legal hold; one shred; a key store backup, verified and
// drilled; then a set of the whole deployment, verified and drilled. The stores stay open (a running service) until closeAll.
func newDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx := context.Background()
	d := &deployment{dir: t.TempDir(), clk: tickingClock()}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	d.pub = pub
	kek, err := localkek.FromFile(keyFile(d.dir))
	must(t, err)
	keys, err := filestore.Open(filepath.Join(d.dir, "keys"), filestore.Config{})
	must(t, err)
	d.auditL, err = audit.OpenFileLog(ctx, filepath.Join(d.dir, "audit"), audit.FileOptions{Signer: priv, Clock: d.clk, CheckpointEvery: 4})
	must(t, err)
	d.closers = append(d.closers, d.auditL.Close)
	vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek, Audit: d.auditL, Clock: d.clk})
	must(t, err)

	actor := audit.Actor{UserID: "u-clinician", Role: "clinician"}
	for _, p := range []struct{ subject, value string }{{"patient-1", canaryPHI}, {"patient-2", "1970-01-01"}, {"patient-3", "1980-02-02"}} {
		s, err := vault.Seal(ctx, phi.Binding{Subject: p.subject, Field: "dob"}, []byte(p.value))
		must(t, err)
		if p.subject == "patient-1" {
			d.sealed = s
		}
		for _, a := range []audit.Action{audit.ActionCreate, audit.ActionRead} {
			must(t, d.auditL.Write(ctx, audit.Event{Actor: actor, Action: a, Outcome: audit.OutcomeSuccess,
				Target: audit.Target{Subject: p.subject, RecordType: "patient", RecordID: p.subject, Field: "dob"},
				Origin: audit.Origin{Channel: audit.ChannelWeb}, Change: &audit.Change{New: s}}))
		}
	}
	must(t, d.auditL.Write(ctx, audit.Event{Actor: audit.Actor{UserID: "u-er", Role: "emergency", Emergency: true, EmergencyReason: "cardiac arrest"},
		Action: audit.ActionEmergencyAccess, Outcome: audit.OutcomeSuccess, Reason: "start", Origin: audit.Origin{Channel: audit.ChannelWeb}}))

	d.users, err = authfile.OpenUserStore(filepath.Join(d.dir, "users"))
	must(t, err)
	d.closers = append(d.closers, d.users.Close)
	for _, u := range []struct {
		name   string
		status auth.Status
		mfa    bool
	}{{"alice", auth.StatusActive, true}, {"bob", auth.StatusActive, true}, {"carol", auth.StatusDisabled, false}} {
		user := &auth.User{ID: auth.NewUserID(), TenantID: "demo-clinic", Name: u.name, Status: u.status, Roles: []string{"clinician"}}
		if u.mfa {
			user.MFA = auth.MFA{TOTPSecret: []byte("sealed-secret"), TOTPActive: true, TOTPDigits: 6, TOTPPeriod: 30, TOTPAlgorithm: "SHA1"}
		}
		must(t, d.users.Create(ctx, user))
	}

	ledgerStore, err := disposal.OpenFileLedgerStore(ctx, filepath.Join(d.dir, "ledger"), disposal.FileLedgerOptions{Signer: priv, Clock: d.clk})
	must(t, err)
	d.ledger = disposal.NewLedger(ledgerStore)
	d.closers = append(d.closers, d.ledger.Close)
	holdStore, err := retention.OpenFileHoldStore(filepath.Join(d.dir, "holds"))
	must(t, err)
	holds, err := retention.NewRegistry(retention.RegistryConfig{Holds: holdStore, Audit: d.auditL, Clock: d.clk})
	if err != nil {
		t.Fatal(err)
	}
	_, err = holds.Set(ctx, retention.HoldRequest{Subject: "patient-2", Reason: canaryReason, SetBy: "u-privacy"})
	must(t, err)
	shredder, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: d.ledger, Audit: d.auditL, Holds: holds, SigningKey: priv, Clock: d.clk})
	must(t, err)
	_, err = shredder.Shred(ctx, "patient-3", canaryReason)
	must(t, err)

	target, err := backup.NewDirTarget(filepath.Join(d.dir, "backups"))
	must(t, err)
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: d.auditL, Actor: audit.Actor{UserID: "system:backup"}, Clock: d.clk})
	must(t, err)
	m, err := repo.Backup(ctx, backup.KeyStoreSource{Store: keys, Name: "keys"})
	must(t, err)
	_, err = repo.Verify(ctx, m.ID, backup.VerifyOptions{})
	must(t, err)
	rep, err := repo.Drill(ctx, backup.DrillOptions{Kind: "keystore", Ledger: d.ledger, ScratchDir: t.TempDir()})
	must(t, err)
	if !rep.Pass || rep.RTO <= 0 {
		t.Fatalf("fixture drill: %+v", rep)
	}
	// The whole deployment as one set, drilled: what makes disaster
	// recovery met.
	trusted := filepath.Join(t.TempDir(), "deployment")
	must(t, os.MkdirAll(trusted, 0o700))
	must(t, os.WriteFile(filepath.Join(trusted, "trusted-keys.pem"), []byte(pemKey(pub)), 0o600))
	dir := func(name string) backup.Source { return backup.DirSource{Root: filepath.Join(d.dir, name), Name: name} }
	d.backups = 1 + drillWholeSet(t, repo, d.ledger, []backup.SetPart{
		{Source: backup.KeyStoreSource{Store: keys, Name: "keys"}, Covers: []string{hipaakit.PartKeys}},
		{Source: dir("users"), Covers: []string{hipaakit.PartUsers}},
		{Source: dir("holds"), Covers: []string{hipaakit.PartHolds}},
		{Source: dir("ledger"), Covers: []string{hipaakit.PartLedger}},
		{Source: backup.DirSource{Root: trusted, Name: "deployment"}, Covers: []string{hipaakit.PartEmergency, hipaakit.PartIncidents, hipaakit.PartSigningKeys}},
		{Source: backup.AuditSource(filepath.Join(d.dir, "audit")), Covers: []string{hipaakit.PartAudit}},
	})
	t.Cleanup(func() { d.closeAll(t) })
	return d
}

// drillWholeSet backs parts up as one set, verifies its members and
// drills it; it returns the number of members.
func drillWholeSet(t *testing.T, repo *backup.Repository, ledger backup.LedgerReplayer, parts []backup.SetPart) int {
	t.Helper()
	ctx := context.Background()
	set, err := repo.BackupSet(ctx, backup.SetConfig{Name: "deployment", Parts: parts})
	must(t, err)
	for _, m := range set.Members {
		_, err := repo.Verify(ctx, m.ID, backup.VerifyOptions{})
		must(t, err)
	}
	reps, err := repo.DrillSet(ctx, set.ID, func(backup.SetMember) backup.DrillOptions {
		return backup.DrillOptions{Ledger: ledger, ScratchDir: t.TempDir()}
	})
	must(t, err)
	if len(reps) != len(parts) {
		t.Fatalf("set drill: %d reports", len(reps))
	}
	return len(set.Members)
}

func (d *deployment) closeAll(t *testing.T) {
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	d.closers = nil
}

// config returns the service configuration a clinic would write into its
// data directory.
func (d *deployment) config() serviceconfig.Config {
	return serviceconfig.Config{
		Version: 1, Service: "clinic", DataDir: d.dir,
		AuditKeys: []string{pemKey(d.pub)},
		KEK:       "local", KEKFile: keyFile(d.dir),
		Policy: serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(15 * time.Minute),
			AbsoluteTimeout: serviceconfig.Duration(12 * time.Hour), LockoutThreshold: 10, PasswordMinLength: 8},
		EmergencyRoles: []string{"emergency"},
		TLS:            serviceconfig.TLS{Enabled: true, MinVersion: "1.2", HSTS: true},
		AuditRetention: "P6Y",
		Retention:      []serviceconfig.RetentionRule{{Kind: "audit", Keep: "P6Y"}, {Kind: "patient", Keep: "P10Y"}},
		Backup:         serviceconfig.Backup{Target: "directory"},
	}
}

// keyFile is the local master key file of the data directory dir: in a
// directory of its own next to it (not beside the data directory, which the
// report counts as a gap), created here.
func keyFile(dir string) string {
	kd := filepath.Clean(dir) + ".keys"
	os.MkdirAll(kd, 0o700) //nolint:errcheck // the key write reports it
	return filepath.Join(kd, "master.key")
}

// writeConfig writes cfg (with data_dir ".") as hipaakit.json into the data
// directory and returns its path.
func (d *deployment) writeConfig(t *testing.T, cfg serviceconfig.Config) string {
	t.Helper()
	cfg.DataDir = "."
	path := filepath.Join(d.dir, serviceconfig.FileName)
	must(t, serviceconfig.Write(path, cfg))
	return path
}

// snapshot hashes every file under dir, so a test can prove that nothing
// was written, created or removed.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	must(t, filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if e.IsDir() {
			out[rel+"/"] = [32]byte{}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = sha256.Sum256(b)
		return nil
	}))
	return out
}

func sameSnapshot(t *testing.T, before, after map[string][32]byte) {
	t.Helper()
	for k, v := range before {
		if w, ok := after[k]; !ok {
			t.Errorf("%s was removed", k)
		} else if w != v {
			t.Errorf("%s was modified", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s was created", k)
		}
	}
}

// isolateAWS points the AWS SDK's default chain at static test credentials
// only: no profile, shared file or instance metadata of the machine.
func isolateAWS(t *testing.T, accessKey, secretKey, region string) {
	home := t.TempDir()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": region} {
		t.Setenv(k, v)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// row returns the report row of control.
func row(t *testing.T, r report.Report, control string) report.Row {
	t.Helper()
	for _, x := range r.Rows {
		if x.Control == control {
			return x
		}
	}
	t.Fatalf("no row %s", control)
	return report.Row{}
}

// pemKey returns pub as a configuration file's audit_keys entry holds it
// (a key of the wrong length gives an entry that fails validation).
func pemKey(pub ed25519.PublicKey) string {
	b, _ := signing.EncodePublicKey(pub)
	return string(b)
}
