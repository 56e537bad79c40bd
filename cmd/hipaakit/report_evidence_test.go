package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/signing"
)

// TestReportEvidenceSignedAndVerified: report --evidence writes
// report.html and report.json signed by the deployment's signing key;
// report --verify accepts each, and refuses an edited file (exit 1, the
// reason named) and a key set that does not hold the signing key.
func TestReportEvidenceSignedAndVerified(t *testing.T) {
	dir, config := reportDataDir(t)
	key, err := signing.Generate()
	check(t, err)
	check(t, signing.Save(filepath.Join(dir, hipaakit.FileSigningKey), key))
	trusted, err := signing.NewKeySet(key.PublicKey())
	check(t, err)
	keysFile := filepath.Join(t.TempDir(), "trusted.pem")
	check(t, os.WriteFile(keysFile, trusted.EncodePEM(), 0o644))
	ev := filepath.Join(t.TempDir(), "evidence")
	if code, _, stderr := runCLI(t, nil, "report", "--config", config, "--evidence", ev); code != exitOK {
		t.Fatalf("report --evidence: exit %d\n%s", code, stderr)
	}
	for _, name := range []string{"report.html", "report.json"} {
		code, stdout, stderr := runCLI(t, nil, "report", "--verify", filepath.Join(ev, name), "--keys", keysFile)
		if code != exitOK || !strings.Contains(stdout, name+": signature verifies (key "+key.KeyID()) {
			t.Fatalf("verify %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
	}
	// The configuration's audit keys do not hold this signing key.
	if code, _, stderr := runCLI(t, nil, "report", "--verify", filepath.Join(ev, "report.json"), "--config", config); code != exitCheck ||
		!strings.Contains(stderr, "not among the trusted keys") {
		t.Fatalf("verify under other keys: exit %d\n%s", code, stderr)
	}
	// Tamper: one status changed.
	js := filepath.Join(ev, "report.json")
	b, err := os.ReadFile(js)
	check(t, err)
	check(t, os.WriteFile(js, []byte(strings.Replace(string(b), `"not met"`, `"met"`, 1)+" "), 0o644))
	code, _, stderr := runCLI(t, nil, "report", "--verify", js, "--keys", keysFile)
	if code != exitCheck || !strings.Contains(stderr, "report.json: the file was changed after signing") {
		t.Fatalf("tampered: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, nil, "report", "--verify", js); code != exitUsage || !strings.Contains(stderr, "needs --keys or --config") {
		t.Fatalf("no keys: exit %d\n%s", code, stderr)
	}
}
