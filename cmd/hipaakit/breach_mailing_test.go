package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
)

// contactCanary marks the contact details of the directory file: they
// may reach the mailing list only, never stdout, stderr or an error.
const contactCanary = "CANARY-77-Elm"

// breachMailingFlow runs, on an assessed incident whose scope was recorded
// (12 affected subjects, p-50 to p-61): notify with a directory file and
// the scope file (counts from the directory), the mailing list to a mail
// house (one row per affected subject, disclosures in the accounting), and
// the refusals: an existing output file, a scope file that is not the
// recorded scope, a malformed directory file.
func breachMailingFlow(t *testing.T, env map[string]string, id string) {
	t.Helper()
	work := t.TempDir()
	code, out, stderr := runCLI(t, env, "breach", "scope", id, "--actor", "u-nurse-7", "--format", "json", "--dry-run",
		"--since", breachNight.Add(-time.Hour).Format(time.RFC3339), "--until", breachNight.Add(5*time.Hour).Format(time.RFC3339))
	if code != exitOK {
		t.Fatalf("scope --format json: %d %s", code, stderr)
	}
	scopeFile := filepath.Join(work, "scope.json")
	os.WriteFile(scopeFile, []byte(out), 0o600)
	// p-50..p-59 listed (NY, then NJ), p-60 without an address, p-61 not
	// in the file at all.
	var dir strings.Builder
	for i := 50; i <= 60; i++ {
		state, addr := "NY", fmt.Sprintf(`,"address":"%d %s St"`, i, contactCanary)
		if i >= 57 {
			state = "nj"
		}
		if i == 60 {
			addr = ""
		}
		fmt.Fprintf(&dir, `{"subject":"p-%d","state":"%s","name":"Patient %s %d"%s}`+"\n", i, state, contactCanary, i, addr)
	}
	dirFile := filepath.Join(work, "directory.jsonl")
	os.WriteFile(dirFile, []byte(dir.String()), 0o600)

	code, out, stderr = runCLI(t, env, "breach", "notify", id, "--directory", dirFile, "--scope", scopeFile, "--format", "json")
	if code != exitOK || !strings.Contains(out, `"count": 12`) || strings.Contains(out+stderr, contactCanary) {
		t.Fatalf("notify --directory: %d %s %s", code, out, stderr)
	}

	list := filepath.Join(work, "mailing.csv")
	mail := []string{"breach", "notify", id, "--directory", dirFile, "--scope", scopeFile,
		"--mailing-list", list, "--mail-house", "Acme Mailing Services", "--mail-house-address", "1 Dock Road, Boston"}
	code, out, stderr = runCLI(t, env, mail...)
	if code != exitOK || strings.Contains(out+stderr, contactCanary) || !strings.Contains(stderr, "mailing list of 12 individuals") {
		t.Fatalf("notify --mailing-list: %d %s %s", code, out, stderr)
	}
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(list); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mailing list mode %v", fi.Mode().Perm())
	}
	rows := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(rows) != 13 || rows[0] != "incident,subject,name,address,email" ||
		rows[1] != fmt.Sprintf("%s,p-50,Patient %s 50,50 %s St,", id, contactCanary, contactCanary) ||
		rows[11] != fmt.Sprintf("%s,p-60,Patient %s 60,,", id, contactCanary) || rows[12] != id+",p-61,,," {
		t.Fatalf("mailing list (%d rows):\n%s", len(rows), b)
	}

	// The accounting of disclosures of p-50 names the mail house.
	target := "pg"
	if env[envDatabaseURL] == "" {
		target = filepath.Join(env["HIPAAKIT_DATA_DIR"], hipaakit.DirAudit)
	}
	code, out, stderr = runCLI(t, env, "audit", "disclosures", "--subject", "p-50", "--verify=false", target)
	if code != exitOK || strings.Count(out, "Acme Mailing Services") != 1 || !strings.Contains(out, "breach_notification") {
		t.Fatalf("disclosures of p-50: %d %s %s", code, out, stderr)
	}

	// Refusals: the list exists already (nothing is revealed again), the
	// scope file is not the recorded one, the directory file is malformed.
	if code, _, stderr := runCLI(t, env, mail...); code != exitFailure || strings.Contains(stderr, work) {
		t.Fatalf("mailing list over an existing file: %d %s", code, stderr)
	}
	if code, out, _ := runCLI(t, env, "audit", "disclosures", "--subject", "p-50", "--verify=false", target); code != exitOK ||
		strings.Count(out, "Acme Mailing Services") != 1 {
		t.Fatalf("a refused run recorded a disclosure: %s", out)
	}
	other := filepath.Join(work, "other-scope.json")
	os.WriteFile(other, []byte(strings.Replace(string(mustRead(t, scopeFile)), `"p-51"`, `"p-52"`, 1)), 0o600)
	if code, _, stderr := runCLI(t, env, "breach", "notify", id, "--directory", dirFile, "--scope", other); code != exitUsage ||
		!strings.Contains(stderr, "not the scope recorded on incident") {
		t.Fatalf("another scope: %d %s", code, stderr)
	}
	os.WriteFile(dirFile, []byte(dir.String()+`{"subject":"p-70","state":"New York","name":"`+contactCanary+`"}`+"\n"), 0o600)
	if code, _, stderr := runCLI(t, env, "breach", "notify", id, "--directory", dirFile, "--scope", scopeFile); code != exitUsage ||
		!strings.Contains(stderr, "directory line 12") || strings.Contains(stderr, contactCanary) {
		t.Fatalf("malformed directory: %d %s", code, stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
