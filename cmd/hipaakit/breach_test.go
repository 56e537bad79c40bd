package main

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/signing"
)

var breachNight = time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)

// breachEvents: ordinary day traffic, then u-nurse-7 reading 12 patients
// at night and one sealed-only export.
func breachEvents() []audit.Event {
	ev := func(at time.Time, actor, subject string, action audit.Action) audit.Event {
		return audit.Event{Time: at, Action: action, Outcome: audit.OutcomeSuccess, Actor: audit.Actor{UserID: actor},
			Origin: audit.Origin{Channel: audit.ChannelWeb, ClientIP: "198.51.100.7", Route: "GET /patients/{id}"},
			Target: audit.Target{RecordType: "patient", RecordID: "r-" + subject, Field: "dob", Subject: subject}}
	}
	var out []audit.Event
	for i := range 30 {
		out = append(out, ev(breachNight.Add(-12*time.Hour+time.Duration(i)*time.Minute), "u-staff-1", fmt.Sprintf("p-%02d", i), audit.ActionRead))
	}
	for i := range 12 {
		out = append(out, ev(breachNight.Add(time.Duration(i)*time.Minute), "u-nurse-7", fmt.Sprintf("p-%02d", 50+i), audit.ActionRead))
	}
	sealed := ev(breachNight.Add(time.Hour), "u-nurse-7", "p-99", audit.ActionExport)
	sealed.Attrs = map[string]string{"exposure": "sealed"}
	return append(out, sealed)
}

func writeEvents(t *testing.T, w audit.Writer) {
	for _, e := range breachEvents() {
		if err := w.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// breachFlow runs open, scope, assess, notify, list and report against env.
func breachFlow(t *testing.T, env map[string]string) {
	t.Helper()
	code, out, stderr := runCLI(t, env, "breach", "open", "--discovered", time.Now().UTC().Format(time.DateOnly), "--tz", "UTC",
		"--description", "Nurse account phished; night reads from an outside address", "--vector", "stolen_credentials")
	if code != exitOK {
		t.Fatalf("open: %d %s", code, stderr)
	}
	id := strings.TrimSpace(out)
	code, out, stderr = runCLI(t, env, "breach", "scope", id, "--actor", "u-nurse-7",
		"--since", breachNight.Add(-time.Hour).Format(time.RFC3339), "--until", breachNight.Add(5*time.Hour).Format(time.RFC3339))
	if code != exitOK {
		t.Fatalf("scope: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1+12+1 || !strings.HasPrefix(lines[1], "p-50,affected,plaintext,patient.dob,") || !strings.HasPrefix(lines[13], "p-99,excluded,sealed,") {
		t.Fatalf("scope CSV (%d lines):\n%s", len(lines), out)
	}
	if !strings.Contains(stderr, "12 affected, 1 excluded") {
		t.Fatalf("scope summary: %s", stderr)
	}
	if code, _, stderr := runCLI(t, env, "breach", "assess", id, "--nature", "Dates of birth of twelve patients, directly identified",
		"--person", "Unknown outside party using a phished account", "--acquired", "Chart pages rendered to the outside address",
		"--mitigation", "Account disabled and sessions revoked the same night", "--conclusion", "breach",
		"--reason", "Viewed identifiers, low probability cannot be shown"); code != exitOK {
		t.Fatalf("assess: %d %s", code, stderr)
	}
	code, out, stderr = runCLI(t, env, "breach", "notify", id, "--format", "csv")
	if code != exitOK || !strings.Contains(out, ",individuals,164.404,,12,") || !strings.Contains(out, ",hhs_annual_log,164.408(c),,12,") {
		t.Fatalf("notify: %d %s %s", code, out, stderr)
	}
	breachMailingFlow(t, env, id)
	code, out, _ = runCLI(t, env, "breach", "show", id)
	if code != exitOK || !strings.Contains(out, "assess") || !strings.Contains(out, "status") || !strings.Contains(out, "open") {
		t.Fatalf("show: %d %s", code, out)
	}
	// an old incident never notified: the report fails the check
	code, out, _ = runCLI(t, env, "breach", "open", "--discovered", "2020-01-06", "--tz", "America/New_York",
		"--description", "Backup tape lost in transit between the two sites")
	if code != exitOK {
		t.Fatalf("open old: %d", code)
	}
	old := strings.TrimSpace(out)
	code, out, stderr = runCLI(t, env, "breach", "report")
	if code != exitCheck || !strings.Contains(out, old) || !strings.Contains(out, id) || !strings.Contains(stderr, "overdue") {
		t.Fatalf("report: %d %s %s", code, out, stderr)
	}
	if code, _, _ := runCLI(t, env, "breach", "list", "--format", "json"); code != exitOK {
		t.Fatalf("list: %d", code)
	}
	// usage errors and refused input
	for _, args := range [][]string{
		{"breach", "open", "--discovered", "2026-03-02", "--tz", "UTC", "--description", "Mailed the chart of MRN 48213377 to a neighbour"},
		{"breach", "close", id},
		{"breach", "show", "INC-NOSUCH"},
		{"breach", "frobnicate"},
		{"breach", "scope", id, "--since", "yesterday", "--until", "today"},
	} {
		if code, _, stderr := runCLI(t, env, args...); code != exitUsage || strings.Contains(stderr, "48213377") {
			t.Errorf("%v: exit %d (want 2), stderr %s", args, code, stderr)
		}
	}
}

func TestCLIBreachFile(t *testing.T) {
	dir := t.TempDir()
	key, err := signing.LoadOrCreate(filepath.Join(dir, hipaakit.FileSigningKey))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.OpenFileLog(context.Background(), filepath.Join(dir, hipaakit.DirAudit), audit.FileOptions{Signer: crypto.Signer(key)})
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, l)
	l.Close()
	env := map[string]string{"HIPAAKIT_DATA_DIR": dir, "USER": "po"}
	breachFlow(t, env)

	// a tampered trail: scope fails the check (exit 1)
	code, out, _ := runCLI(t, env, "breach", "open", "--discovered", "2026-03-03", "--tz", "UTC",
		"--description", "Second look at the night reads after the review")
	if code != exitOK {
		t.Fatalf("open: %d", code)
	}
	// a copy of the trail with one record changed, read with --trail: the
	// CLI's own trail stays intact, so the scoping's verification reports it
	copyDir := filepath.Join(t.TempDir(), "audit-copy")
	if err := os.CopyFS(copyDir, os.DirFS(filepath.Join(dir, hipaakit.DirAudit))); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(copyDir, "*"))
	tampered := 0
	for _, seg := range segs {
		b, _ := os.ReadFile(seg)
		if c := strings.Replace(string(b), `"u-nurse-7"`, `"u-nurse-8"`, 1); c != string(b) {
			os.WriteFile(seg, []byte(c), 0o600)
			tampered++
		}
	}
	if tampered != 1 {
		t.Fatalf("tampered %d segments", tampered)
	}
	code, _, stderr := runCLI(t, env, "breach", "scope", strings.TrimSpace(out), "--actor", "u-nurse-7", "--trail", copyDir,
		"--since", breachNight.Add(-time.Hour).Format(time.RFC3339), "--until", breachNight.Add(5*time.Hour).Format(time.RFC3339))
	if code != exitCheck || !strings.Contains(stderr, "FAILED: breach: the audit trail failed verification") {
		t.Fatalf("scope over a tampered trail: %d %s", code, stderr)
	}
}

func TestCLIBreachPostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	url := hipaakittest.PostgresURL()
	if strings.Contains(url, "?") {
		url += "&search_path=" + schema
	} else {
		url += "?search_path=" + schema
	}
	keyPath := filepath.Join(t.TempDir(), "audit-key.pem")
	key, err := signing.LoadOrCreate(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "app-1", Signer: crypto.Signer(key)})
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, w)
	w.Close(ctx)
	breachFlow(t, map[string]string{envDatabaseURL: url, hipaakit.EnvSigningKeyFile: keyPath, "USER": "po"})
}

// scopeLedgerUnavailable: breach scope over a deployment whose disposal
// ledger cannot be opened fails with exit 3 naming the cause (no path),
// and scopes with --no-shredded-check, saying on stderr that shredded
// subjects were not checked.
func scopeLedgerUnavailable(t *testing.T, env map[string]string, cause string) {
	t.Helper()
	code, out, stderr := runCLI(t, env, "breach", "open", "--discovered", "2026-03-03", "--tz", "UTC",
		"--description", "Night reads under review before the ledger is back")
	if code != exitOK {
		t.Fatalf("open: %d %s", code, stderr)
	}
	id := strings.TrimSpace(out)
	args := []string{"breach", "scope", id, "--actor", "u-nurse-7", "--dry-run",
		"--since", breachNight.Add(-time.Hour).Format(time.RFC3339), "--until", breachNight.Add(5 * time.Hour).Format(time.RFC3339)}
	code, out, stderr = runCLI(t, env, args...)
	if code != exitFailure || out != "" || !strings.Contains(stderr, "the disposal ledger cannot be opened to mark shredded subjects") ||
		!strings.Contains(stderr, cause) || strings.Contains(stderr, os.TempDir()) {
		t.Fatalf("scope with the ledger unavailable: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, env, append(args, "--no-shredded-check")...)
	if code != exitOK || !strings.Contains(stderr, "shredded subjects: unchecked") || !strings.Contains(out, "p-50,affected,") {
		t.Fatalf("scope --no-shredded-check: exit %d, stderr %s", code, stderr)
	}
}

func TestCLIBreachScopeLedgerUnavailable(t *testing.T) {
	dir := t.TempDir()
	key, err := signing.LoadOrCreate(filepath.Join(dir, hipaakit.FileSigningKey))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.OpenFileLog(context.Background(), filepath.Join(dir, hipaakit.DirAudit), audit.FileOptions{Signer: crypto.Signer(key)})
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, l)
	l.Close()
	// the ledger's directory is a file: the ledger cannot be opened
	if err := os.WriteFile(filepath.Join(dir, hipaakit.DirLedger), []byte("not a ledger"), 0o600); err != nil {
		t.Fatal(err)
	}
	scopeLedgerUnavailable(t, map[string]string{"HIPAAKIT_DATA_DIR": dir, "USER": "po"}, "ledger: ")
}
