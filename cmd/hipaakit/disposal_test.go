package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/signing"
)

// drSeal seals one value for each subject in the file key store of dataDir.
func drSeal(t *testing.T, dataDir string, subjects ...string) map[string]phi.Sealed {
	t.Helper()
	keys, err := filestore.Open(filepath.Join(dataDir, "keys"), filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	kek, _ := localkek.New(make([]byte, 32))
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]phi.Sealed{}
	for _, s := range subjects {
		if out[s], err = v.Seal(context.Background(), phi.Binding{Subject: s, Field: "dob"}, []byte("1970-01-01")); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func drKeyState(t *testing.T, dataDir, subject string) error {
	t.Helper()
	keys, err := filestore.Open(filepath.Join(dataDir, "keys"), filestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = keys.Get(context.Background(), subject)
	return err
}

func TestCLIShredVerifyHoldReplay(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HIPAAKIT_DATA_DIR": dir, "USER": "alice"}
	drSeal(t, dir, "patient-1", "patient-2")
	backup := filepath.Join(t.TempDir(), "keys-backup")
	if err := os.CopyFS(backup, os.DirFS(filepath.Join(dir, "keys"))); err != nil {
		t.Fatal(err)
	}

	code, cert, stderr := runCLI(t, env, "shred", "patient-1", "--reason", "patient request")
	if code != exitOK || !strings.Contains(cert, `"hipaakit-disposal-certificate"`) || !strings.Contains(stderr, "shredded") {
		t.Fatalf("shred: %d %q %q", code, cert, stderr)
	}
	if err := drKeyState(t, dir, "patient-1"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("keys after shred: %v", err)
	}
	certPath := filepath.Join(t.TempDir(), "cert.json")
	os.WriteFile(certPath, []byte(cert), 0o644)
	code, out, _ := runCLI(t, env, "disposal", "verify-certificate", certPath)
	if code != exitOK || !strings.Contains(out, "VALID") || !strings.Contains(out, "patient-1") || !strings.Contains(out, "cli:alice") {
		t.Fatalf("verify: %d %q", code, out)
	}
	// The public key can also be given explicitly, without a data dir.
	pubPath := filepath.Join(dir, "signing-key.pub.pem")
	if code, _, _ := runCLI(t, nil, "disposal", "verify-certificate", "--public-key", pubPath, certPath); code != exitOK {
		t.Fatalf("verify with --public-key: %d", code)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.json")
	os.WriteFile(tampered, []byte(strings.Replace(cert, "patient request", "patient requesT", 1)), 0o644)
	if code, out, _ := runCLI(t, env, "disposal", "verify-certificate", tampered); code != exitCheck || !strings.Contains(out, "INVALID") {
		t.Fatalf("tampered: %d %q", code, out)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, []byte("\x00\xff not a certificate"), 0o644)
	if code, _, _ := runCLI(t, env, "disposal", "verify-certificate", garbage); code != exitCheck {
		t.Fatalf("garbage: %d", code)
	}
	if code, _, _ := runCLI(t, env, "disposal", "verify-certificate", filepath.Join(dir, "missing")); code != exitFailure {
		t.Fatalf("missing file: %d", code)
	}

	// Idempotent: the same certificate again.
	if code, again, _ := runCLI(t, env, "shred", "patient-1", "--reason", "again"); code != exitOK || again != cert {
		t.Fatalf("repeat shred: %d", code)
	}
	// Refusals.
	if code, _, stderr := runCLI(t, env, "shred", "patient-404", "--reason", "r"); code != exitCheck || !strings.Contains(stderr, "unknown subject") {
		t.Fatalf("unknown subject: %d %q", code, stderr)
	}
	code, holdID, _ := runCLI(t, env, "hold", "set", "--subject", "patient-2", "--reason", "litigation 2026-17", "--by", "counsel-1")
	holdID = strings.TrimSpace(holdID)
	if code != exitOK || !strings.HasPrefix(holdID, "hold-") {
		t.Fatalf("hold set: %d %q", code, holdID)
	}
	if code, _, stderr := runCLI(t, env, "shred", "patient-2", "--reason", "r"); code != exitCheck || !strings.Contains(stderr, "legal hold") {
		t.Fatalf("held subject: %d %q", code, stderr)
	}
	if err := drKeyState(t, dir, "patient-2"); err != nil {
		t.Fatalf("held subject's keys: %v", err)
	}
	if code, out, _ := runCLI(t, env, "hold", "list"); code != exitOK || !strings.Contains(out, holdID) || !strings.Contains(out, "litigation 2026-17") {
		t.Fatalf("hold list: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, env, "hold", "lift", holdID, "--reason", "settled"); code != exitOK {
		t.Fatalf("hold lift: %d", code)
	}
	if code, _, _ := runCLI(t, env, "hold", "lift", holdID, "--reason", "settled"); code != exitCheck {
		t.Fatalf("lift twice: %d", code)
	}
	if code, out, _ := runCLI(t, env, "hold", "list"); code != exitOK || strings.Contains(out, holdID) {
		t.Fatalf("lifted hold listed as active: %q", out)
	}
	if code, out, _ := runCLI(t, env, "hold", "list", "--all"); code != exitOK || !strings.Contains(out, "lifted") {
		t.Fatalf("hold list --all: %q", out)
	}
	if code, _, _ := runCLI(t, env, "shred", "patient-2", "--reason", "r", "--out", filepath.Join(dir, "p2.json")); code != exitOK {
		t.Fatalf("shred after lift: %d", code)
	}

	// The ledger verifies; replay after restoring the old key store.
	if code, out, _ := runCLI(t, env, "disposal", "verify-ledger"); code != exitOK || !strings.Contains(out, "2 disposals") {
		t.Fatalf("verify-ledger: %d %q", code, out)
	}
	os.RemoveAll(filepath.Join(dir, "keys"))
	if err := os.CopyFS(filepath.Join(dir, "keys"), os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	if err := drKeyState(t, dir, "patient-1"); err != nil {
		t.Fatalf("restored store should hold patient-1: %v", err)
	}
	if code, out, _ := runCLI(t, env, "disposal", "replay"); code != exitOK || !strings.Contains(out, "replayed 2") {
		t.Fatalf("replay: %d %q", code, out)
	}
	for _, s := range []string{"patient-1", "patient-2"} {
		if err := drKeyState(t, dir, s); !errors.Is(err, phi.ErrShredded) {
			t.Fatalf("%s after replay: %v", s, err)
		}
	}

	// Every shred and hold change is in the audit trail.
	r, err := audit.OpenFileReader(filepath.Join(dir, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[audit.Action]int{}
	for rec, err := range r.Records(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		counts[rec.Event.Action]++
	}
	if counts[audit.ActionShred] < 4 || counts[audit.ActionLegalHold] != 2 {
		t.Fatalf("audit trail counts %v", counts)
	}

	// A corrupted ledger is reported with exit 1.
	segs, _ := filepath.Glob(filepath.Join(dir, "ledger", "*.jsonl"))
	data, _ := os.ReadFile(segs[0])
	os.WriteFile(segs[0], []byte(strings.Replace(string(data), "patient-2", "patient-3", 1)), 0o600)
	if code, out, _ := runCLI(t, env, "disposal", "verify-ledger"); code != exitCheck || !strings.Contains(out, "CORRUPT") {
		t.Fatalf("corrupt ledger: %d %q", code, out)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HIPAAKIT_DATA_DIR": dir}
	for _, args := range [][]string{
		{"shred"},
		{"shred", "patient-1"},
		{"shred", "patient-1", "patient-2", "--reason", "r"},
		{"shred", "bad subject", "--reason", "r"},
		{"hold"},
		{"hold", "set", "--reason", "r"},
		{"hold", "frob"},
		{"hold", "lift", "--reason", "r"},
		{"disposal"},
		{"disposal", "verify-certificate"},
		{"disposal", "frob"},
		{"retention"},
		{"retention", "sweep"},
	} {
		if code, _, _ := runCLI(t, env, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, stderr := runCLI(t, nil, "shred", "patient-1", "--reason", "r"); code != exitUsage || !strings.Contains(stderr, "HIPAAKIT_DATA_DIR") {
		t.Fatalf("no environment: %d %q", code, stderr)
	}
}

// The signing key the CLI creates verifies its certificates, and is kept
// private (mode 0600).
func TestCLISigningKeyFiles(t *testing.T) {
	dir := t.TempDir()
	drSeal(t, dir, "patient-1")
	code, cert, _ := runCLI(t, map[string]string{"HIPAAKIT_DATA_DIR": dir}, "shred", "patient-1", "--reason", "r")
	if code != exitOK {
		t.Fatal(code)
	}
	fi, err := os.Stat(filepath.Join(dir, hipaakit.FileSigningKey))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v %v", fi.Mode(), err)
	}
	pemBytes, _ := os.ReadFile(filepath.Join(dir, "signing-key.pub.pem"))
	trusted, err := signing.ParseKeySet(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disposal.VerifyCertificate([]byte(cert), trusted); err != nil {
		t.Fatal(err)
	}
}
