package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

func TestCLIBackup(t *testing.T) {
	data := t.TempDir()
	if _, err := localkek.FromDir(data); err != nil { // the service's KEK
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo, "USER": "ops"}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o600)
	os.MkdirAll(filepath.Join(src, "d"), 0o700)
	os.WriteFile(filepath.Join(src, "d", "b.bin"), make([]byte, 300000), 0o600)

	code, out, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", src, "--progress")
	if code != exitOK || len(strings.TrimSpace(out)) != 32 || !strings.Contains(errs, "100%") {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	id := strings.TrimSpace(out)

	code, out, _ = runCLI(t, env, "backup", "list", "--json")
	var infos []struct{ ID string }
	if code != exitOK || json.Unmarshal([]byte(out), &infos) != nil || len(infos) != 1 || infos[0].ID != id {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, _ = runCLI(t, env, "backup", "verify", "latest"); code != exitOK || !strings.Contains(out, id+" OK full") {
		t.Fatalf("verify: %d %q", code, out)
	}
	if code, out, _ = runCLI(t, env, "backup", "verify", id, "--fraction", "0.5", "--seed", "7"); code != exitOK || !strings.Contains(out, "seed 7") {
		t.Fatalf("subset verify: %d %q", code, out)
	}

	// A corrupt chunk: verify exits 1 and names it.
	chunks, _ := filepath.Glob(filepath.Join(repo, "chunks", "*", "*"))
	orig, _ := os.ReadFile(chunks[0])
	os.WriteFile(chunks[0], append([]byte{}, orig[:len(orig)-1]...), 0o600)
	rel, _ := filepath.Rel(repo, chunks[0])
	if code, out, _ = runCLI(t, env, "backup", "verify", "all"); code != exitCheck || !strings.Contains(out, filepath.ToSlash(rel)) {
		t.Fatalf("verify of a corrupt backup: %d %q", code, out)
	}
	os.WriteFile(chunks[0], orig, 0o600)

	// A torn verification record: list and verify all still work, the
	// backup shows as not verified and list names the record.
	if err := os.WriteFile(filepath.Join(repo, "verified", id), []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs = runCLI(t, env, "backup", "list"); code != exitOK || !strings.Contains(out, "record unreadable") || !strings.Contains(errs, "verified/"+id) {
		t.Fatalf("list with a torn verification record: %d %q %q", code, out, errs)
	}
	if code, out, _ = runCLI(t, env, "backup", "verify", "all"); code != exitOK || !strings.Contains(out, id+" OK full") {
		t.Fatalf("verify all with a torn verification record: %d %q", code, out)
	}
	if code, out, _ = runCLI(t, env, "backup", "list"); code != exitOK || strings.Contains(out, "record unreadable") {
		t.Fatalf("list after a new verification: %d %q", code, out)
	}

	dest := filepath.Join(t.TempDir(), "restored")
	if code, out, errs = runCLI(t, env, "backup", "restore", "latest", "--to", dest); code != exitOK {
		t.Fatalf("restore: %d %q %q", code, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "a.txt")); string(b) != "alpha" {
		t.Fatal("restored file differs")
	}
	if code, _, errs = runCLI(t, env, "backup", "restore", id, "--to", dest); code != exitCheck || !strings.Contains(errs, "not empty") {
		t.Fatalf("restore over data: %d %q", code, errs)
	}
	if code, _, _ = runCLI(t, env, "backup", "restore", id, "--to", dest, "--force"); code != exitOK {
		t.Fatalf("forced restore: %d", code)
	}
	if code, out, _ = runCLI(t, env, "backup", "drill"); code != exitOK || !strings.Contains(out, "PASS") || !strings.Contains(out, "RTO") {
		t.Fatalf("drill: %d %q", code, out)
	}

	// Key store: back up, shred, restore with ledger replay, drill.
	drSeal(t, data, "patient-1", "patient-2")
	code, out, _ = runCLI(t, env, "backup", "create", "--source", "keystore")
	if code != exitOK {
		t.Fatalf("keystore backup: %d", code)
	}
	ksID := strings.TrimSpace(out)
	if code, _, errs = runCLI(t, env, "shred", "patient-1", "--reason", "patient request"); code != exitOK {
		t.Fatalf("shred: %d %q", code, errs)
	}
	if code, _, errs = runCLI(t, env, "backup", "restore", ksID, "--to-keystore"); code != exitCheck {
		t.Fatalf("restore into a non-empty key store: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, env, "backup", "restore", ksID, "--to-keystore", "--force")
	if code != exitOK || !strings.Contains(out, "1 keysets restored, 1 kept shredded") {
		t.Fatalf("forced key store restore: %d %q", code, out)
	}
	if err := drKeyState(t, data, "patient-1"); err == nil {
		t.Fatal("restore brought a shredded patient back")
	}
	if err := drKeyState(t, data, "patient-2"); err != nil {
		t.Fatalf("patient-2 after restore: %v", err)
	}
	if code, out, errs = runCLI(t, env, "backup", "drill", ksID); code != exitOK || !strings.Contains(out, "PASS") {
		t.Fatalf("key store drill: %d %q %q", code, out, errs)
	}

	// "latest" for a directory destination skips the newer key store backup.
	dest2 := filepath.Join(t.TempDir(), "again")
	if code, _, errs = runCLI(t, env, "backup", "restore", "latest", "--to", dest2); code != exitOK {
		t.Fatalf("restore latest into a directory after a key store backup: %d %q", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dest2, "a.txt")); string(b) != "alpha" {
		t.Fatal("latest directory backup not restored")
	}

	code, out, _ = runCLI(t, env, "backup", "prune", "--keep-last", "1", "--dry-run")
	if code != exitOK || !strings.Contains(out, "would remove 0 backup(s)") {
		t.Fatalf("prune dry run: %d %q", code, out)
	}
}

func TestCLIBackupUsage(t *testing.T) {
	env := map[string]string{"HIPAAKIT_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{"backup"},
		{"backup", "frob"},
		{"backup", "list"}, // no repository
		{"backup", "create", "--repo", t.TempDir()},
		{"backup", "list", "--repo", t.TempDir(), "--bogus"},
	} {
		if code, _, _ := runCLI(t, env, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	// A repository that does not exist is an operational error for list.
	if _, err := localkek.FromDir(env["HIPAAKIT_DATA_DIR"]); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, env, "backup", "list", "--repo", t.TempDir()); code != exitFailure {
		t.Errorf("list of an empty directory: exit %d, want %d", code, exitFailure)
	}
}

// TestCLIBackupAuditDrill backs up the CLI's own audit trail and drills it,
// verifying the restored chain with the CLI's checkpoint key.
func TestCLIBackupAuditDrill(t *testing.T) {
	data := t.TempDir()
	if _, err := localkek.FromDir(data); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": filepath.Join(t.TempDir(), "repo")}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "x"), []byte("x"), 0o600)
	// A first backup writes audit events, so the trail is not empty.
	if code, _, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", src); code != exitOK {
		t.Fatalf("create: %d %q", code, errs)
	}
	code, out, errs := runCLI(t, env, "backup", "create", "--source", "audit")
	if code != exitOK {
		t.Fatalf("audit backup: %d %q", code, errs)
	}
	id := strings.TrimSpace(out)
	if code, out, errs = runCLI(t, env, "backup", "drill", id); code != exitOK || !strings.Contains(out, "PASS") {
		t.Fatalf("audit drill: %d %q %q", code, out, errs)
	}
}

// TestCLIBackupS3 runs create, verify and restore against the S3 test
// server through an s3:// repository.
func TestCLIBackupS3(t *testing.T) {
	srv := hipaakittest.S3(t)
	bucket := srv.Bucket(t, false)
	data := t.TempDir()
	if _, err := localkek.FromDir(data); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": "s3://" + bucket + "/clinic-a",
		"HIPAAKIT_S3_ENDPOINT": srv.Endpoint, "AWS_ACCESS_KEY_ID": srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey, "AWS_REGION": srv.Region,
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o600)
	code, out, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", src)
	if code != exitOK {
		t.Fatalf("create on S3: %d %q", code, errs)
	}
	id := strings.TrimSpace(out)
	if code, out, _ = runCLI(t, env, "backup", "verify", id); code != exitOK {
		t.Fatalf("verify on S3: %d %q", code, out)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if code, _, errs = runCLI(t, env, "backup", "restore", id, "--to", dest); code != exitOK {
		t.Fatalf("restore from S3: %d %q", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "a.txt")); string(b) != "alpha" {
		t.Fatal("restored file differs")
	}
}
