package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	authfile "github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/serviceconfig"
	"github.com/hipaakit/hipaakit/signing"
)

const reportCanary = "CANARY-PHI-CLI-REPORT-555-12-0000"

// reportDataDir writes a data directory with the SDK's packages — sealed
// keys, an audit trail, users with TOTP, a shred, a hold, a verified and
// drilled key store backup — and its hipaakit.json; it returns the
// configuration's path. The clock is the system's: the report measures the
// age of backups and drills against the time it runs.
func reportDataDir(t *testing.T) (dir, config string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	check(t, err)
	kek, err := localkek.FromFile(reportKeyFile(dir)) // in a directory of its own (beside the data directory is a gap)
	check(t, err)
	keys, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	check(t, err)
	log, err := audit.OpenFileLog(ctx, filepath.Join(dir, "audit"), audit.FileOptions{Signer: priv})
	check(t, err)
	defer log.Close()
	vault, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek, Audit: log})
	check(t, err)
	for _, s := range []string{"patient-1", "patient-2"} {
		sealed, err := vault.Seal(ctx, phi.Binding{Subject: s, Field: "name"}, []byte(reportCanary))
		check(t, err)
		check(t, log.Write(ctx, audit.Event{Actor: audit.Actor{UserID: "u-1"}, Action: audit.ActionCreate, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Subject: s, RecordType: "patient", RecordID: s, Field: "name"}, Change: &audit.Change{New: sealed}}))
	}
	users, err := authfile.OpenUserStore(filepath.Join(dir, "users"))
	check(t, err)
	defer users.Close()
	check(t, users.Create(ctx, &auth.User{ID: auth.NewUserID(), TenantID: "t", Name: "alice", Status: auth.StatusActive,
		MFA: auth.MFA{TOTPSecret: []byte("sealed"), TOTPActive: true, TOTPDigits: 6, TOTPPeriod: 30, TOTPAlgorithm: "SHA1"}}))
	ls, err := disposal.OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Signer: priv})
	check(t, err)
	ledger := disposal.NewLedger(ls)
	defer ledger.Close()
	hs, err := retention.OpenFileHoldStore(filepath.Join(dir, "holds"))
	check(t, err)
	holds, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: ledger, Audit: log, Holds: holds, SigningKey: priv})
	check(t, err)
	_, err = sh.Shred(ctx, "patient-2", "patient request")
	check(t, err)
	target, err := backup.NewDirTarget(filepath.Join(dir, "backups"))
	check(t, err)
	repo, err := backup.Init(ctx, target, kek, backup.Config{Audit: log, Actor: audit.Actor{UserID: "system:backup"}})
	check(t, err)
	m, err := repo.Backup(ctx, backup.KeyStoreSource{Store: keys, Name: "keys"})
	check(t, err)
	_, err = repo.Verify(ctx, m.ID, backup.VerifyOptions{})
	check(t, err)
	_, err = repo.Drill(ctx, backup.DrillOptions{Kind: "keystore", Ledger: ledger, ScratchDir: t.TempDir()})
	check(t, err)
	// The whole deployment as one drilled set: what disaster recovery
	// needs.
	trusted := t.TempDir()
	check(t, os.WriteFile(filepath.Join(trusted, "trusted-keys.pem"), []byte(pemKey(pub)), 0o600))
	dirPart := func(name string, covers ...string) backup.SetPart {
		return backup.SetPart{Source: backup.DirSource{Root: filepath.Join(dir, name), Name: name}, Covers: covers}
	}
	set, err := repo.BackupSet(ctx, backup.SetConfig{Name: "deployment", Parts: []backup.SetPart{
		{Source: backup.KeyStoreSource{Store: keys, Name: "keys"}, Covers: []string{hipaakit.PartKeys}},
		dirPart("users", hipaakit.PartUsers), dirPart("holds", hipaakit.PartHolds), dirPart("ledger", hipaakit.PartLedger),
		{Source: backup.DirSource{Root: trusted, Name: "deployment"}, Covers: []string{hipaakit.PartEmergency, hipaakit.PartIncidents, hipaakit.PartSigningKeys}},
		{Source: backup.AuditSource(filepath.Join(dir, "audit")), Covers: []string{hipaakit.PartAudit}},
	}})
	check(t, err)
	_, err = repo.DrillSet(ctx, set.ID, func(backup.SetMember) backup.DrillOptions {
		return backup.DrillOptions{Ledger: ledger, ScratchDir: t.TempDir()}
	})
	check(t, err)

	cfg := serviceconfig.Config{Version: 1, Service: "clinic", DataDir: ".", AuditKeys: []string{pemKey(pub)}, KEK: "local",
		KEKFile: filepath.Join("..", filepath.Base(filepath.Dir(reportKeyFile(dir))), "master.key"),
		Policy: serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(15 * time.Minute),
			AbsoluteTimeout: serviceconfig.Duration(12 * time.Hour), LockoutThreshold: 10, PasswordMinLength: 8},
		EmergencyRoles: []string{"emergency"}, TLS: serviceconfig.TLS{Enabled: true, MinVersion: "1.3", HSTS: true},
		Retention: []serviceconfig.RetentionRule{{Kind: "audit", Keep: "P6Y"}}, Backup: serviceconfig.Backup{Target: "directory"}}
	b, err := json.Marshal(cfg)
	check(t, err)
	config = filepath.Join(dir, serviceconfig.FileName)
	check(t, os.WriteFile(config, b, 0o600))
	return dir, config
}

// reportKeyFile is the master key file of the data directory dir, in a
// directory of its own next to it (created here).
func reportKeyFile(dir string) string {
	kd := filepath.Clean(dir) + ".keys"
	os.MkdirAll(kd, 0o700) //nolint:errcheck // the key write reports it
	return filepath.Join(kd, "master.key")
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReportAllMetExitsZero(t *testing.T) {
	_, config := reportDataDir(t)
	code, stdout, stderr := runCLI(t, nil, "report", "--config", config)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"| 164.312(b) | Audit controls | met |", "| 164.308(a)(7)(ii)(B) | Disaster recovery plan | met |",
		"1 subjects crypto-shredded", "17 met, 0 not met, 0 without evidence"} {
		if !strings.Contains(stdout+stderr, want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, stdout, stderr)
		}
	}
}

func TestReportFormatsAndOut(t *testing.T) {
	_, config := reportDataDir(t)
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := runCLI(t, nil, "report", "--config", config, "--format", "json", "--out", out)
	if code != exitOK || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	check(t, err)
	var rep report.Report
	check(t, json.Unmarshal(b, &rep))
	if rep.Service != "clinic" || len(rep.Rows) != 17 || !rep.AllMet() {
		t.Fatalf("json report: %+v", rep)
	}
	code, html, _ := runCLI(t, nil, "report", "--config", config, "--format", "html")
	if code != exitOK || !strings.HasPrefix(html, "<!doctype html>") || !strings.Contains(html, `<tr class="met"><td>164.312(d)</td>`) {
		t.Fatalf("html: exit %d\n%s", code, html)
	}
	// No rendering carries the sealed canary.
	for _, f := range []string{"markdown", "json", "html"} {
		_, stdout, stderr := runCLI(t, nil, "report", "--config", config, "--format", f)
		if strings.Contains(stdout+stderr, reportCanary) {
			t.Errorf("%s report leaks the canary", f)
		}
	}
}

func TestReportTamperedAuditExitsOne(t *testing.T) {
	dir, config := reportDataDir(t)
	segs, err := filepath.Glob(filepath.Join(dir, "audit", "seg-*.jsonl"))
	check(t, err)
	data, err := os.ReadFile(segs[0])
	check(t, err)
	old := []byte(`"record_id":"patient-1"`)
	if !bytes.Contains(data, old) {
		t.Fatal("fixture line not found")
	}
	check(t, os.WriteFile(segs[0], bytes.Replace(data, old, []byte(`"record_id":"patient-7"`), 1), 0o600))
	code, stdout, stderr := runCLI(t, nil, "report", "--config", config)
	if code != exitCheck {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var line string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "| 164.312(b) ") {
			line = l
		}
	}
	if !strings.Contains(line, "| not met |") || !strings.Contains(line, "verification failed: audit:") {
		t.Fatalf("164.312(b) row: %q", line)
	}
}

func TestReportMissingEvidenceExitsOne(t *testing.T) {
	dir, config := reportDataDir(t)
	check(t, os.RemoveAll(filepath.Join(dir, "users")))
	code, stdout, stderr := runCLI(t, nil, "report", "--config", config)
	if code != exitCheck || !strings.Contains(stdout, "| 164.312(d) | Person or entity authentication | no evidence |") ||
		!strings.Contains(stderr, "note: users: the user store cannot be read") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestReportUsageAndConfigErrors(t *testing.T) {
	_, config := reportDataDir(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	check(t, os.WriteFile(bad, []byte(`{"version":1,"service":"x","data_dir":".","databse_url":"postgres://u:SECRETPW@h/db"}`), 0o600))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, exitUsage, "--config is required"},
		{[]string{"report", "--config", config, "--format", "pdf"}, exitUsage, "--format must be"},
		{[]string{"report", "--config", config, "extra"}, exitUsage, "unexpected argument"},
		{[]string{"report", "--bogus"}, exitUsage, "not defined"},
		{[]string{"report", "--config", bad}, exitUsage, "databse_url: unknown field"},
		{[]string{"report", "--config", filepath.Join(t.TempDir(), "missing.json")}, exitFailure, "read service configuration"},
		{[]string{"report", "--help"}, exitOK, "usage: hipaakit report"},
	} {
		code, stdout, stderr := runCLI(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout %s\nstderr %s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, "SECRETPW") {
			t.Errorf("%v: output echoes the configuration's password", tc.args)
		}
	}
}

// TestReportMasterKeyFromEnv: with the key file gone, HIPAAKIT_MASTER_KEY
// opens the backup repository.
func TestReportMasterKeyFromEnv(t *testing.T) {
	dir, config := reportDataDir(t)
	key, err := os.ReadFile(reportKeyFile(dir))
	check(t, err)
	moved := filepath.Join(t.TempDir(), "moved.key")
	check(t, os.Rename(reportKeyFile(dir), moved))
	if code, _, stderr := runCLI(t, nil, "report", "--config", config); code != exitCheck || !strings.Contains(stderr, "without the KEK") {
		t.Fatalf("without key: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, map[string]string{envMasterKey: string(key)}, "report", "--config", config)
	if code != exitOK {
		t.Fatalf("with HIPAAKIT_MASTER_KEY: exit %d\n%s\n%s", code, stderr, stdout)
	}
	if strings.Contains(stderr, strings.TrimSpace(string(key))) {
		t.Fatal("the master key appears in the output")
	}
	if code, _, stderr := runCLI(t, map[string]string{envMasterKeyFile: moved}, "report", "--config", config); code != exitOK {
		t.Fatalf("with HIPAAKIT_MASTER_KEY_FILE: exit %d\n%s", code, stderr)
	}
	// The same key kept inside the data directory is a gap the report names.
	check(t, os.WriteFile(filepath.Join(dir, localkek.FileName), key, 0o600))
	code, stdout, _ = runCLI(t, map[string]string{envMasterKeyFile: moved}, "report", "--config", config)
	if code != exitCheck || !strings.Contains(stdout, "the local master key file is inside the data directory") {
		t.Fatalf("key inside the data directory: exit %d\n%s", code, stdout)
	}
}

// pemKey returns pub as a configuration file's audit_keys entry holds it
// (a key of the wrong length gives an entry that fails validation).
func pemKey(pub ed25519.PublicKey) string {
	b, _ := signing.EncodePublicKey(pub)
	return string(b)
}
