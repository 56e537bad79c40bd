package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// TestMasterKeyEnv: the backup commands read HIPAAKIT_MASTER_KEY or
// HIPAAKIT_MASTER_KEY_FILE; the retired names are refused with the new name,
// also when a valid new name is set beside them, and so are both new names
// at once.
func TestMasterKeyEnv(t *testing.T) {
	data := t.TempDir()
	if _, err := localkek.FromDir(data); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	src := t.TempDir()
	check(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha"), 0o600))
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo}
	code, out, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", src)
	if code != exitOK {
		t.Fatalf("create with <data>/kek.key: %d %s", code, errs)
	}
	id := strings.TrimSpace(out)
	// Move the key out of the data directory.
	keyFile := filepath.Join(t.TempDir(), "master.key")
	check(t, os.Rename(filepath.Join(data, localkek.FileName), keyFile))
	encoded, err := os.ReadFile(keyFile)
	check(t, err)
	if code, _, errs := runCLI(t, env, "backup", "list"); code != exitUsage || !strings.Contains(errs, envMasterKeyFile) {
		t.Fatalf("list without a key: %d %s", code, errs)
	}
	// Beside the data directory, where hipaakit.Open keeps it, it is found
	// without any variable.
	check(t, os.Rename(keyFile, hipaakit.DefaultKeyFile(data)))
	if code, out, errs := runCLI(t, env, "backup", "list"); code != exitOK || !strings.Contains(out, id) {
		t.Fatalf("list with the key beside the data directory: %d %q %s", code, out, errs)
	}
	check(t, os.Rename(hipaakit.DefaultKeyFile(data), keyFile))
	with := func(kv ...string) map[string]string {
		m := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, e := range map[string]map[string]string{
		"file":    with(envMasterKeyFile, keyFile),
		"encoded": with(envMasterKey, string(encoded)),
	} {
		if code, out, errs := runCLI(t, e, "backup", "list"); code != exitOK || !strings.Contains(out, id) {
			t.Errorf("%s: list: %d %q %s", name, code, out, errs)
		}
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{with("HIPAAKIT_KEK", string(encoded)), "HIPAAKIT_KEK is no longer read: rename it to HIPAAKIT_MASTER_KEY "},
		{with("HIPAAKIT_KEK_FILE", keyFile, envMasterKeyFile, keyFile), "HIPAAKIT_KEK_FILE is no longer read: rename it to HIPAAKIT_MASTER_KEY_FILE"},
		{with(envMasterKey, string(encoded), envMasterKeyFile, keyFile), "not both"},
	} {
		code, out, errs := runCLI(t, tc.env, "backup", "list")
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", keysOf(tc.env), code, errs, exitUsage, tc.want)
		}
		if strings.Contains(out+errs, strings.TrimSpace(string(encoded))) || strings.Contains(out+errs, keyFile) {
			t.Errorf("%v: the output shows the key or its path", keysOf(tc.env))
		}
	}
}

// TestRetiredDatabaseEnv: HIPAAKIT_DATABASE_URL is refused with the name
// the services read, by every command but help.
func TestRetiredDatabaseEnv(t *testing.T) {
	env := map[string]string{"HIPAAKIT_DATABASE_URL": "postgres://127.0.0.1:1/db"}
	for _, args := range [][]string{{"audit", "query", "--key", "k.pem", "pg"}, {"hold", "list"}, {"user", "list"}} {
		code, _, errs := runCLI(t, env, args...)
		if code != exitUsage || !strings.Contains(errs, "HIPAAKIT_DATABASE_URL is no longer read: rename it to DATABASE_URL") {
			t.Errorf("%v: exit %d, %s", args, code, errs)
		}
	}
	if code, _, _ := runCLI(t, env, "help"); code != exitOK {
		t.Errorf("help: exit %d", code)
	}
}

// TestReportRetiredKeyEnv: the report refuses the retired names too.
func TestReportRetiredKeyEnv(t *testing.T) {
	_, config := reportDataDir(t)
	code, _, errs := runCLI(t, map[string]string{"HIPAAKIT_KEK_FILE": "/nonexistent"}, "report", "--config", config)
	if code != exitUsage || !strings.Contains(errs, "rename it to HIPAAKIT_MASTER_KEY_FILE") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		if strings.Contains(k, "KEY") || strings.Contains(k, "KEK") {
			out = append(out, k)
		}
	}
	return out
}
