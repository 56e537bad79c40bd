package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/phi/localkek"
)

// TestCLIBackupCopy: `backup copy all --to-repo` copies and verifies every
// backup; running it again finds them there and uploads nothing.
func TestCLIBackupCopy(t *testing.T) {
	data := t.TempDir()
	if _, err := localkek.FromDir(data); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	second := filepath.Join(t.TempDir(), "second")
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo, "USER": "ops"}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o600)
	var ids []string
	for range 2 {
		code, out, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", src)
		if code != exitOK {
			t.Fatalf("create: %d %q", code, errs)
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	code, out, errs := runCLI(t, env, "backup", "copy", "all", "--to-repo", second)
	if code != exitOK || strings.Count(out, " copied, verified") != 2 || !strings.Contains(out, ids[1]+" copied, verified: ") || !strings.Contains(out, ids[1]+" copied, verified: 5 B, 0 new chunks") {
		t.Fatalf("copy: %d %q %q", code, out, errs)
	}
	if code, out, _ = runCLI(t, env, "backup", "copy", "latest", "--to-repo", second); code != exitOK || !strings.Contains(out, ids[1]+" already there") {
		t.Fatalf("copy again: %d %q", code, out)
	}
	env["HIPAAKIT_BACKUP_REPO"] = second
	if code, out, _ = runCLI(t, env, "backup", "list"); code != exitOK || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) {
		t.Fatalf("list of the copy: %d %q", code, out)
	}
	if code, _, errs = runCLI(t, env, "backup", "copy", "latest"); code != exitUsage {
		t.Fatalf("copy without --to-repo: %d %q", code, errs)
	}
}
