package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/phi/localkek"
)

// TestCLIBackupDamagedManifest: list shows the intact backups, names the
// damaged manifest on stderr and exits 1; verify all reports it as failing.
func TestCLIBackupDamagedManifest(t *testing.T) {
	data := t.TempDir()
	if _, err := localkek.FromDir(data); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo, "USER": "ops"}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o600)
	var ids []string
	for i := 0; i < 2; i++ {
		code, out, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", src)
		if code != exitOK {
			t.Fatalf("create: %d %q", code, errs)
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	if err := os.WriteFile(filepath.Join(repo, "manifests", ids[0]), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, env, "backup", "list")
	if code != exitCheck || !strings.Contains(out, ids[1]) || strings.Contains(out, ids[0]) || !strings.Contains(errs, "manifests/"+ids[0]) {
		t.Fatalf("list with a damaged manifest: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, env, "backup", "verify", "all")
	if code != exitCheck || !strings.Contains(out, ids[1]+" OK") || !strings.Contains(out, ids[0]+" FAIL") {
		t.Fatalf("verify all with a damaged manifest: %d %q", code, out)
	}
}
