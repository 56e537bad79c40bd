package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"github.com/hipaakit/hipaakit"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

var reportNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// goodEvidence is a deployment that meets every technical control.
func goodEvidence() Evidence {
	return Evidence{
		Service: "clinic", GeneratedAt: reportNow,
		Identity: &IdentityEvidence{Users: 6, UniqueIDs: true, RequireMFA: true, PasswordMinChars: 8,
			PasswordBlocklist: 100000, LockoutThreshold: 10, EmergencyRoles: []string{"emergency"}, EmergencySessions: 1},
		Sessions:   &SessionEvidence{IdleTimeout: 15 * time.Minute, AbsoluteLifetime: 12 * time.Hour},
		Encryption: &EncryptionEvidence{KEK: "local", KeyStore: "file", Subjects: 40, Shredded: 1},
		Transport:  &TransportEvidence{TLS: true, MinVersion: "1.2", HSTS: true},
		Audit: &AuditEvidence{Verified: true, Events: 1200, Checkpoints: 12, First: reportNow.Add(-30 * 24 * time.Hour),
			Last: reportNow, Retention: 2192 * 24 * time.Hour, // six calendar years at their longest
			Streams: []StreamCoverage{{Stream: "app", Records: 1200, LastCheckpoint: reportNow.Add(-time.Hour), AfterCheckpoint: 3}}},
		Backup: &BackupEvidence{Backups: 30, Target: "directory", LastBackup: reportNow.Add(-5 * time.Hour),
			LastVerified: reportNow.Add(-5 * time.Hour), LastDrill: reportNow.Add(-24 * time.Hour), LastDrillPass: true,
			LastDrillRTO: 90 * time.Second, LedgerReplayed: true,
			LastSetDrill: reportNow.Add(-24 * time.Hour), LastSetDrillPass: true, SetDrillCovers: append([]string{"records"}, hipaakit.DeploymentParts()...)},
		Disposal:  &DisposalEvidence{Shreds: 1, Certificates: 1, LedgerVerified: true, LastShred: reportNow.Add(-48 * time.Hour)},
		Retention: &RetentionEvidence{Policies: []RetentionPolicy{{Kind: "audit", Period: "6y", Years: 6}}, Holds: 0},
		Incidents: &IncidentEvidence{Incidents: 2, Open: []OpenIncident{{ID: "inc-1", Status: "assessed", Discovered: "2026-11-01",
			Affected: 40, NextNotice: "individuals", Rule: "164.404", NextDue: "2026-12-31", DueBy: reportNow.Add(40 * 24 * time.Hour)}}},
	}
}

func TestReportAllMet(t *testing.T) {
	r := Build(goodEvidence())
	if !r.AllMet() {
		for _, row := range r.Rows {
			if row.Status != Met {
				t.Errorf("%s %s: %s %v", row.Control, row.Title, row.Status, row.Gaps)
			}
		}
	}
	want := []string{"164.312(a)(2)(i)", "164.312(a)(2)(ii)", "164.312(a)(2)(iii)", "164.312(a)(2)(iv)", "164.312(b)",
		"164.312(c)(2)", "164.312(d)", "164.312(e)(2)(i)", "164.312(e)(2)(ii)", "164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)",
		"164.308(a)(7)(ii)(D)", "164.310(d)(2)(i)", "164.310(d)(2)(ii)", "164.310(d)(2)(iv)", "164.316(b)(2)", "164.404-164.410"}
	var got []string
	for _, row := range r.Rows {
		got = append(got, row.Control)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("controls\n got %v\nwant %v", got, want)
	}
	if len(r.Organisational) == 0 || r.Organisational[0].Status != NotJudged {
		t.Fatal("organisational safeguards are not listed as not judged")
	}
}

func TestReportNoEvidenceIsNeverMet(t *testing.T) {
	r := Build(Evidence{Service: "empty", GeneratedAt: reportNow})
	for _, row := range r.Rows {
		if row.Status != NoEvidence {
			t.Errorf("%s: %s with no evidence", row.Control, row.Status)
		}
	}
	if r.AllMet() {
		t.Fatal("an empty report claims all controls met")
	}
}

func TestReportGaps(t *testing.T) {
	cases := []struct {
		control string
		mutate  func(*Evidence)
		gap     string
	}{
		{"164.312(a)(2)(iii)", func(e *Evidence) { e.Sessions.IdleTimeout = time.Hour }, "idle timeout must be set and at most 30m0s"},
		{"164.312(b)", func(e *Evidence) { e.Audit.Verified, e.Audit.VerifyError = false, "event 17: hash mismatch" }, "verification failed: event 17: hash mismatch"},
		{"164.312(d)", func(e *Evidence) { e.Identity.RequireMFA = false }, "MFA is not required"},
		{"164.312(e)(2)(ii)", func(e *Evidence) { e.Transport.TLS = false }, "TLS is off"},
		{"164.308(a)(7)(ii)(A)", func(e *Evidence) { e.Backup.LastBackup = reportNow.Add(-72 * time.Hour) }, "no backup in the last 48h0m0s"},
		{"164.308(a)(7)(ii)(B)", func(e *Evidence) { e.Backup.LedgerReplayed = false }, "restores do not replay the disposal ledger"},
		{"164.308(a)(7)(ii)(D)", func(e *Evidence) { e.Backup.LastDrill = time.Time{} }, "no restore drill in the last 2160h0m0s"},
		// Issue 20 item 3: backups (and their drill) that omit users, holds
		// and the disposal ledger do not make a recoverable deployment.
		{"164.308(a)(7)(ii)(B)", func(e *Evidence) { e.Backup.SetDrillCovers = []string{"records", "keys", "audit"} },
			"the last whole-deployment drill did not restore: users, holds, ledger, emergency, incidents, signing-keys"},
		{"164.308(a)(7)(ii)(B)", func(e *Evidence) { e.Backup.LastSetDrill, e.Backup.SetDrillCovers = time.Time{}, nil },
			"no drill of a whole-deployment backup set: nothing shows that keys, audit, users, holds, ledger, emergency, incidents, signing-keys restore together"},
		{"164.308(a)(7)(ii)(B)", func(e *Evidence) { e.Backup.LastSetDrillPass = false }, "the last whole-deployment drill did not pass"},
		{"164.310(d)(2)(i)", func(e *Evidence) { e.Disposal.LedgerVerified, e.Disposal.LedgerError = false, "bad line 3" }, "disposal ledger does not verify: bad line 3"},
		{"164.316(b)(2)", func(e *Evidence) { e.Audit.Retention = 365 * 24 * time.Hour }, "audit retention below 6 calendar years"},
		// six 365-day years are not six calendar years
		{"164.316(b)(2)", func(e *Evidence) { e.Audit.Retention = 6 * 365 * 24 * time.Hour }, "audit retention below 6 calendar years"},
	}
	for _, c := range cases {
		ev := goodEvidence()
		c.mutate(&ev)
		r := Build(ev)
		found := false
		for _, row := range r.Rows {
			if row.Control != c.control {
				continue
			}
			found = true
			if row.Status != NotMet || !strings.Contains(strings.Join(row.Gaps, ";"), c.gap) {
				t.Errorf("%s: status %s, gaps %v; want not met with %q", c.control, row.Status, row.Gaps, c.gap)
			}
		}
		if !found {
			t.Errorf("no row for %s", c.control)
		}
	}
}

func TestReportRenderings(t *testing.T) {
	ev := goodEvidence()
	ev.Transport.TLS = false
	ev.Service = "clinic | <script>"
	ev.Notes = []string{"backup: the KEK could not be read, so the backup section is empty"}
	r := Build(ev)
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.md", func(b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{"report.json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }},
		{"report.html", func(b *bytes.Buffer) error { return r.WriteHTML(b) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", f.name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(golden, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update once)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from its golden file; run go test -update and review the diff", f.name)
		}
	}
	var decoded Report
	var b bytes.Buffer
	r.WriteJSON(&b)
	if err := json.Unmarshal(b.Bytes(), &decoded); err != nil || len(decoded.Rows) != len(r.Rows) {
		t.Fatalf("JSON does not round-trip: %v", err)
	}
	var h bytes.Buffer
	r.WriteHTML(&h)
	if strings.Contains(h.String(), "<script>") {
		t.Fatal("HTML output does not escape the service name")
	}
}
