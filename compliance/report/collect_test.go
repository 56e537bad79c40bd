package report_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// TestCollectFileStores reads a data directory written by the SDK while its
// stores are open (a running service holds their locks) and checks every
// section, that every technical control is met, and that nothing under the
// data directory changed.
func TestCollectFileStores(t *testing.T) {
	d := newDeployment(t)
	ctx := context.Background()
	now := fixtureStart.Add(2 * time.Hour)
	before := snapshot(t, d.dir)
	ev, err := report.Collect(ctx, d.config(), now)
	must(t, err)
	sameSnapshot(t, before, snapshot(t, d.dir))
	if len(ev.Notes) != 0 {
		t.Errorf("notes: %q", ev.Notes)
	}

	id := ev.Identity
	if id == nil || id.Users != 3 || !id.UniqueIDs || id.UsersWithoutMFA != 0 || !id.RequireMFA || id.PasswordMinChars != 8 ||
		id.LockoutThreshold != 10 || id.EmergencySessions != 1 || id.PasswordBlocklist < 1000 || strings.Join(id.EmergencyRoles, ",") != "emergency" {
		t.Errorf("identity: %+v", id)
	}
	if s := ev.Sessions; s == nil || s.IdleTimeout != 15*time.Minute || s.AbsoluteLifetime != 12*time.Hour {
		t.Errorf("sessions: %+v", s)
	}
	// patient-1 and patient-2 keep their keys, patient-3 is shredded.
	if e := ev.Encryption; e == nil || e.KEK != "local" || e.KeyStore != "file" || e.Subjects != 2 || e.Shredded != 1 {
		t.Errorf("encryption: %+v", e)
	}
	if tr := ev.Transport; tr == nil || !tr.TLS || !tr.HSTS || tr.MinVersion != "1.2" {
		t.Errorf("transport: %+v", tr)
	}
	a := ev.Audit
	if a == nil || !a.Verified || a.VerifyError != "" || a.Events < 8 || a.Checkpoints < 2 || a.First.IsZero() || !a.Last.After(a.First) ||
		a.Retention < 6*365*24*time.Hour {
		t.Errorf("audit: %+v", a)
	}
	if a != nil && (len(a.Streams) == 0 || a.Streams[0].Records == 0 || a.Streams[0].LastCheckpoint.IsZero()) {
		t.Errorf("audit stream coverage: %+v", a.Streams)
	}
	if a != nil && (a.First.Before(fixtureStart) || a.Last.After(now)) {
		t.Errorf("audit span %v..%v outside the fixture's run", a.First, a.Last)
	}
	b := ev.Backup
	if b == nil || b.Backups != d.backups || b.Target != "directory" || b.LastBackup.IsZero() || b.LastVerified.Before(b.LastBackup) ||
		b.LastDrill.Before(b.LastBackup) || !b.LastDrillPass || b.LastDrillRTO <= 0 || !b.LedgerReplayed {
		t.Errorf("backup: %+v", b)
	}
	if ds := ev.Disposal; ds == nil || ds.Shreds != 1 || ds.Certificates != 1 || !ds.LedgerVerified || ds.LedgerError != "" || ds.LastShred.IsZero() {
		t.Errorf("disposal: %+v", ds)
	}
	if r := ev.Retention; r == nil || r.Holds != 1 || len(r.Policies) != 2 || r.Policies[0] != (report.RetentionPolicy{Kind: "audit", Period: "P6Y", Years: 6}) {
		t.Errorf("retention: %+v", r)
	}

	rep := report.Build(ev)
	if !rep.AllMet() {
		for _, r := range rep.Rows {
			if r.Status != report.Met {
				t.Errorf("%s %s: %s %q", r.Control, r.Title, r.Status, r.Gaps)
			}
		}
	}
}

// TestCollectTamperedAudit: one altered audit line makes 164.312(b) not met,
// with the verifier's message naming the bad record.
func TestCollectTamperedAudit(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	segs, err := filepath.Glob(filepath.Join(d.dir, "audit", "seg-*.jsonl"))
	must(t, err)
	if len(segs) == 0 {
		t.Fatal("no audit segment")
	}
	data, err := os.ReadFile(segs[0])
	must(t, err)
	// Re-attribute patient-2's read to patient-9: same length, new content.
	old := []byte(`"record_id":"patient-2"`)
	if !bytes.Contains(data, old) {
		t.Fatal("fixture line not found")
	}
	must(t, os.WriteFile(segs[0], bytes.Replace(data, old, []byte(`"record_id":"patient-9"`), 1), 0o600))

	ev, err := report.Collect(context.Background(), d.config(), fixtureStart.Add(time.Hour))
	must(t, err)
	if ev.Audit == nil || ev.Audit.Verified || !strings.Contains(ev.Audit.VerifyError, "seq") {
		t.Fatalf("audit after tampering: %+v", ev.Audit)
	}
	r := row(t, report.Build(ev), "164.312(b)")
	if r.Status != report.NotMet || !strings.Contains(strings.Join(r.Gaps, ";"), "verification failed: "+ev.Audit.VerifyError) {
		t.Fatalf("164.312(b): %+v", r)
	}
	if r := row(t, report.Build(ev), "164.312(c)(2)"); r.Status != report.NotMet {
		t.Fatalf("164.312(c)(2): %+v", r)
	}
}

// TestCollectWrongAuditKey: a trail signed by a key the configuration does
// not trust does not verify.
func TestCollectWrongAuditKey(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	cfg := d.config()
	cfg.AuditKeys = []string{base64.StdEncoding.EncodeToString(make([]byte, 32))}
	cfg.LedgerKeys = []string{pemKey(d.pub)}
	ev, err := report.Collect(context.Background(), cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	if ev.Audit == nil || ev.Audit.Verified || ev.Audit.VerifyError == "" {
		t.Fatalf("audit under an untrusted key: %+v", ev.Audit)
	}
	if ev.Disposal == nil || !ev.Disposal.LedgerVerified {
		t.Fatalf("the ledger has its own key: %+v", ev.Disposal)
	}
}

// TestCollectEmptyDataDir: nothing to read leaves the sections nil with a
// note each, creates nothing, and no control is met except those the
// configuration alone shows.
func TestCollectEmptyDataDir(t *testing.T) {
	dir := t.TempDir()
	cfg := (&deployment{dir: dir, pub: make([]byte, 32)}).config()
	ev, err := report.Collect(context.Background(), cfg, fixtureStart)
	must(t, err)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Collect created %d entries in the data directory", len(entries))
	}
	if ev.Identity != nil || ev.Encryption != nil || ev.Audit != nil || ev.Disposal != nil {
		t.Fatalf("sections without stores: %+v", ev)
	}
	if ev.Backup == nil || ev.Backup.Backups != 0 {
		t.Fatalf("backup without a backup directory: %+v", ev.Backup)
	}
	if ev.Retention == nil || ev.Retention.Holds != 0 {
		t.Fatalf("retention without a hold store: %+v", ev.Retention)
	}
	notes := strings.Join(ev.Notes, "\n")
	for _, want := range []string{"audit trail", "users", "disposal ledger", "encryption", "backup", "retention"} {
		if !strings.Contains(notes, want) {
			t.Errorf("no note about %s in:\n%s", want, notes)
		}
	}
	rep := report.Build(ev)
	for _, c := range []string{"164.312(a)(2)(i)", "164.312(b)", "164.312(d)", "164.310(d)(2)(i)", "164.316(b)(2)"} {
		if r := row(t, rep, c); r.Status != report.NoEvidence {
			t.Errorf("%s: %s", c, r.Status)
		}
	}
	if r := row(t, rep, "164.308(a)(7)(ii)(A)"); r.Status != report.NotMet {
		t.Errorf("backup plan without backups: %s", r.Status)
	}
}

// TestCollectBackupNeedsKEK: without the master key the backup facts are
// not read, the section stays nil and a note says why.
func TestCollectBackupNeedsKEK(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	must(t, os.Remove(keyFile(d.dir)))
	ev, err := report.Collect(context.Background(), d.config(), fixtureStart.Add(time.Hour))
	must(t, err)
	if ev.Backup != nil {
		t.Fatalf("backup evidence without the KEK: %+v", ev.Backup)
	}
	if !strings.Contains(strings.Join(ev.Notes, "\n"), "backup: the repository cannot be opened without the KEK") {
		t.Fatalf("notes: %q", ev.Notes)
	}
	for _, p := range []string{keyFile(d.dir), filepath.Join(d.dir, "kek.key")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatal("Collect created a master key")
		}
	}
}

// TestCollectUsersWithoutMFA counts an active user without a second factor
// and fails 164.312(d).
func TestCollectUsersWithoutMFA(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	cfg := d.config()
	cfg.Tenants = []serviceconfig.Policy{{TenantID: "other", RequireMFA: false, IdleTimeout: serviceconfig.Duration(20 * time.Minute),
		AbsoluteTimeout: serviceconfig.Duration(8 * time.Hour), LockoutThreshold: 5, PasswordMinLength: 15, PasswordBlocklist: "none"}}
	ev, err := report.Collect(context.Background(), cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	id := ev.Identity
	// The weakest values of the two tenants are reported.
	if id == nil || id.RequireMFA || id.PasswordBlocklist != 0 || id.LockoutThreshold != 10 || id.PasswordMinChars != 8 ||
		ev.Sessions.IdleTimeout != 20*time.Minute || ev.Sessions.AbsoluteLifetime != 12*time.Hour {
		t.Fatalf("weakest policy: %+v %+v", id, ev.Sessions)
	}
	if r := row(t, report.Build(ev), "164.312(d)"); r.Status != report.NotMet {
		t.Fatalf("164.312(d): %+v", r)
	}
}

// TestCollectKeyInDataDir: a local master key file inside the data
// directory (the legacy kek.key, also when the key is given at run time, or
// a kek_file below the directory) is a gap under 164.312(a)(2)(iv) whose
// remediation says to move it and how; in a directory of its own it is not.
func TestCollectKeyInDataDir(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	key, err := os.ReadFile(keyFile(d.dir))
	must(t, err)
	encRow := func(cfg serviceconfig.Config) report.Row {
		t.Helper()
		ev, err := report.Collect(context.Background(), cfg, fixtureStart.Add(time.Hour))
		must(t, err)
		return row(t, report.Build(ev), "164.312(a)(2)(iv)")
	}
	if r := encRow(d.config()); r.Status != report.Met {
		t.Fatalf("key in a directory of its own: %s %v", r.Status, r.Gaps)
	}
	inside := filepath.Join(d.dir, "secrets", "master.key")
	must(t, os.MkdirAll(filepath.Dir(inside), 0o700))
	must(t, os.WriteFile(inside, key, 0o600))
	legacy := filepath.Join(d.dir, "kek.key")
	for name, tc := range map[string]struct {
		file string // written into the data directory
		cfg  func(*serviceconfig.Config)
	}{
		"kek_file inside": {"", func(c *serviceconfig.Config) { c.KEKFile = inside }},
		"kek_file inside, by a detour": {"", func(c *serviceconfig.Config) {
			c.KEKFile = d.dir + "/../" + filepath.Base(d.dir) + "/secrets/master.key"
		}},
		"legacy kek.key": {legacy, func(c *serviceconfig.Config) { c.KEKFile = "" }},
		"legacy kek.key, key at run time": {legacy, func(c *serviceconfig.Config) {
			c.KEKFile, c.MasterKey = "", strings.TrimSpace(string(key))
		}},
	} {
		if tc.file != "" {
			must(t, os.WriteFile(tc.file, key, 0o600))
		}
		cfg := d.config()
		tc.cfg(&cfg)
		r := encRow(cfg)
		gaps := strings.Join(r.Gaps, "\n")
		if r.Status != report.NotMet || !strings.Contains(gaps, "inside the data directory") ||
			!strings.Contains(gaps, "move the file out of the data directory") || !strings.Contains(gaps, "hipaakit kek migrate") {
			t.Errorf("%s: %s %q", name, r.Status, r.Gaps)
		}
		if strings.Contains(gaps, d.dir) {
			t.Errorf("%s: the gap names the path", name)
		}
		if tc.file != "" {
			must(t, os.Remove(tc.file))
		}
	}
}

// TestCollectDefaultsBesideDataDir: without kek_file and backup.dir the
// report finds the master key and the backups where hipaakit.Open puts
// them, beside the data directory; a key there is not inside the
// directory, but beside it, which leaves 164.312(a)(2)(iv) not met with the
// gap named (one copy of the parent directory or volume takes both).
func TestCollectDefaultsBesideDataDir(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	must(t, os.Rename(filepath.Join(d.dir, "backups"), hipaakit.DefaultBackupDir(d.dir)))
	must(t, os.Rename(keyFile(d.dir), hipaakit.DefaultKeyFile(d.dir)))
	cfg := d.config()
	cfg.KEKFile = ""
	ev, err := report.Collect(context.Background(), cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	if b := ev.Backup; b == nil || b.Backups == 0 || ev.Encryption == nil || ev.Encryption.KeyInDataDir || !ev.Encryption.KeyBesideDataDir {
		t.Fatalf("backup %+v, encryption %+v, notes %q", ev.Backup, ev.Encryption, ev.Notes)
	}
	r := row(t, report.Build(ev), "164.312(a)(2)(iv)")
	if gaps := strings.Join(r.Gaps, "\n"); r.Status != report.NotMet || !strings.Contains(gaps, "sits beside the data directory") ||
		!strings.Contains(gaps, "another volume") || strings.Contains(gaps, d.dir) {
		t.Fatalf("key beside the data directory: %s %q", r.Status, r.Gaps)
	}
}

// TestCollectKEKKindMismatch: keysets wrapped by a local key under a
// configuration that claims AWS KMS get a note.
func TestCollectKEKKindMismatch(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	cfg := d.config()
	cfg.KEK, cfg.KEKFile, cfg.Backup.Target = "aws-kms:alias/clinic", "", "none"
	ev, err := report.Collect(context.Background(), cfg, fixtureStart.Add(time.Hour))
	must(t, err)
	if !strings.Contains(strings.Join(ev.Notes, "\n"), `keysets are wrapped by a KEK of another kind than the configured "aws-kms:alias/clinic"`) {
		t.Fatalf("notes: %q", ev.Notes)
	}
}

// TestReportHasNoPHI: the sealed canary, its ciphertext and the free-text
// reasons given for holds and shreds appear in no rendering of the report.
func TestReportHasNoPHI(t *testing.T) {
	d := newDeployment(t)
	ev, err := report.Collect(context.Background(), d.config(), fixtureStart.Add(time.Hour))
	must(t, err)
	rep := report.Build(ev)
	var md, js, html bytes.Buffer
	must(t, rep.WriteMarkdown(&md))
	must(t, rep.WriteJSON(&js))
	must(t, rep.WriteHTML(&html))
	forbidden := []string{canaryPHI, canaryReason, base64.StdEncoding.EncodeToString(d.sealed), "cardiac arrest"}
	for name, out := range map[string]string{"markdown": md.String(), "json": js.String(), "html": html.String(), "notes": strings.Join(ev.Notes, "\n")} {
		if !strings.Contains(out, "clinic") && name != "notes" {
			t.Fatalf("%s rendering is empty", name)
		}
		for _, f := range forbidden {
			if strings.Contains(out, f) {
				t.Errorf("%s report contains %q", name, f)
			}
		}
	}
}

// TestCollectCorruptStoresDoNotLeak: damaged user and hold files become
// notes that name the store, never the files' content.
func TestCollectCorruptStoresDoNotLeak(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	must(t, os.WriteFile(filepath.Join(d.dir, "users", "zzzz.json"), []byte(`{"v":1,"name":"`+canaryPHI+`"`), 0o600))
	must(t, os.WriteFile(filepath.Join(d.dir, "holds", "holds.json"), []byte(`{"format":"hipaakit-legal-holds","version":1,"holds":[{"id":"`+canaryPHI+`"}]}`), 0o600))
	ev, err := report.Collect(context.Background(), d.config(), fixtureStart.Add(time.Hour))
	must(t, err)
	notes := strings.Join(ev.Notes, "\n")
	if ev.Identity != nil || ev.Retention != nil || !strings.Contains(notes, "users: the user store cannot be read") ||
		!strings.Contains(notes, "retention: the legal hold store cannot be read") {
		t.Fatalf("identity %+v retention %+v notes:\n%s", ev.Identity, ev.Retention, notes)
	}
	if strings.Contains(notes, canaryPHI) {
		t.Fatalf("notes leak file content:\n%s", notes)
	}
}

func TestCollectCancelled(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := report.Collect(ctx, d.config(), fixtureStart); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	cfg := d.config()
	cfg.Policy.LockoutThreshold = 0
	if _, err := report.Collect(context.Background(), cfg, fixtureStart); !errors.Is(err, serviceconfig.ErrInvalid) {
		t.Fatalf("invalid config: %v", err)
	}
}

// TestCollectDamagedManifest: a manifest that does not authenticate (here a
// torn upload) is not counted as a backup, is named in the evidence, and
// makes the backup storage row not met; the intact backup still counts.
func TestCollectDamagedManifest(t *testing.T) {
	d := newDeployment(t)
	d.closeAll(t)
	ctx := context.Background()
	target, err := backup.NewDirTarget(filepath.Join(d.dir, "backups"))
	must(t, err)
	const torn = "manifests/0123456789abcdef0123456789abcdef"
	must(t, target.Put(ctx, torn, []byte("torn upload")))
	ev, err := report.Collect(ctx, d.config(), fixtureStart.Add(time.Hour))
	must(t, err)
	b := ev.Backup
	if b == nil || b.Backups != d.backups || len(b.Damaged) != 1 || !strings.HasPrefix(b.Damaged[0], torn+": backup:") {
		t.Fatalf("backup: %+v", b)
	}
	r := row(t, report.Build(ev), "164.310(d)(2)(iv)")
	if r.Status != report.NotMet || len(r.Gaps) != 1 || !strings.Contains(r.Gaps[0], torn) {
		t.Fatalf("164.310(d)(2)(iv): %+v", r)
	}
}

// TestCollectPartialSetDrill is issue 20 item 3 on a data directory: after
// a set that omits users, holds and the disposal ledger is drilled (the
// newest whole-deployment drill), disaster recovery is not met and the gap
// names the parts the drill did not restore.
func TestCollectPartialSetDrill(t *testing.T) {
	d := newDeployment(t)
	ctx := context.Background()
	target, err := backup.NewDirTarget(filepath.Join(d.dir, "backups"))
	must(t, err)
	kek, err := localkek.FromFile(keyFile(d.dir))
	must(t, err)
	repo, err := backup.Open(ctx, target, kek, backup.Config{Audit: d.auditL, Actor: audit.Actor{UserID: "system:backup"}, Clock: d.clk})
	must(t, err)
	keys, err := filestore.Open(filepath.Join(d.dir, "keys"), filestore.Config{})
	must(t, err)
	drillWholeSet(t, repo, d.ledger, []backup.SetPart{
		{Source: backup.KeyStoreSource{Store: keys, Name: "keys"}, Covers: []string{hipaakit.PartKeys}},
		{Source: backup.AuditSource(filepath.Join(d.dir, "audit")), Covers: []string{hipaakit.PartAudit}},
	})
	d.closeAll(t)
	ev, err := report.Collect(ctx, d.config(), fixtureStart.Add(2*time.Hour))
	must(t, err)
	r := row(t, report.Build(ev), "164.308(a)(7)(ii)(B)")
	want := "the last whole-deployment drill did not restore: users, holds, ledger, emergency, incidents, signing-keys"
	if r.Status != report.NotMet || !slices.Contains(r.Gaps, want) {
		t.Fatalf("164.308(a)(7)(ii)(B) after a partial set drill: %+v", r)
	}
}
