package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// TestCLIArchiveAndPurgeAudit archives a data directory's audit log
// written in 2010, verifies the archive, and purges it with the audit
// policy: the held subject's unit stops the purge.
func TestCLIArchiveAndPurgeAudit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, hipaakit.FileSigningKey)
	key, err := signing.LoadOrCreate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC))
	log, err := audit.OpenFileLog(ctx, filepath.Join(dir, "audit"), audit.FileOptions{Signer: key, Clock: clk, SegmentMaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"patient-a", "patient-held", "patient-b", "patient-c"} {
		if err := log.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Target: audit.Target{Subject: s}}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(24 * time.Hour)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HIPAAKIT_DATA_DIR": dir}
	arch := filepath.Join(t.TempDir(), "archive")
	code, out, stderr := runCLI(t, env, "retention", "archive-audit", "--archive", arch, "--after", "24h")
	if code != exitOK || !strings.Contains(out, "3 units archived (through seq 3)") {
		t.Fatalf("archive-audit: %d %q %q", code, out, stderr)
	}
	if code, out, _ := runCLI(t, nil, "audit", "archive-verify", "--key", signing.PublicKeyPath(keyFile), arch); code != exitOK {
		t.Fatalf("archive-verify: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, env, "hold", "set", "--subject", "patient-held", "--reason", "subpoena", "--by", "counsel"); code != exitOK {
		t.Fatal(code)
	}
	policies := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(policies, []byte(`{"format":"hipaakit-retention-policies","version":1,"policies":[{"kind":"audit","keep":"P6Y"}]}`), 0o600)
	code, out, stderr = runCLI(t, env, "retention", "purge-audit", "--policies", policies, "--archive", arch)
	if code != exitOK || !strings.Contains(out, "archived units purged: 1 (through seq 1), stopped by held") {
		t.Fatalf("purge-audit --archive: %d %q %q", code, out, stderr)
	}
	if code, out, _ := runCLI(t, nil, "audit", "archive-verify", "--key", signing.PublicKeyPath(keyFile), arch); code != exitOK || !strings.Contains(out, "records 2-3") {
		t.Fatalf("archive-verify after purge: %d %q", code, out)
	}
}
