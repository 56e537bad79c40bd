package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/retention"
)

// TestCLIBackupSetRestoreDrillCopy: on a data directory hipaakit.Open
// wrote (a user, a legal hold, two patients, one shredded), `backup create
// --all` backs up the whole deployment as one set; `backup drill --set`
// restores every member into scratch space and names every part it
// restored; `backup restore --set` puts the set into a new data directory,
// which opens (with the master key and the signing key kept apart) with the
// user, the hold and the ledger, the kept patient readable and the patients
// shredded before and after the backup still shredded; `backup copy --set` copies the set to a second
// repository, where it lists.
func TestCLIBackupSetRestoreDrillCopy(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	root := t.TempDir()
	data := filepath.Join(root, "data")
	d, err := hipaakit.Open(ctx, hipaakit.Config{DataDir: data, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	user := &auth.User{ID: auth.NewUserID(), TenantID: "t1", Name: "alice", Status: auth.StatusActive}
	if err := d.Users.Create(ctx, user); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Holds.Set(ctx, retention.HoldRequest{Subject: "patient-2", Reason: "litigation", SetBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	sealed := map[string]phi.Sealed{}
	bind := func(s string) phi.Binding { return phi.Binding{Subject: s, Field: "name", Tenant: "t1"} }
	for _, s := range []string{"patient-1", "patient-2", "patient-3"} {
		if sealed[s], err = d.Vault.Seal(ctx, bind(s), []byte("Jane Doe")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Shredder.Shred(ctx, "patient-1", "retention expired"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	repo := filepath.Join(root, "repo")
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo, "USER": "ops"}
	code, out, errs := runCLI(t, env, "backup", "create", "--all")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 8 || len(lines[0]) != 32 || !strings.Contains(out, " keystore keys") || !strings.Contains(out, " dir users") ||
		!strings.Contains(out, " dir ledger") || !strings.Contains(out, " audit audit") {
		t.Fatalf("create --all: %d %q %q", code, out, errs)
	}
	setID := lines[0]
	if code, out, _ = runCLI(t, env, "backup", "list"); code != exitOK || !strings.Contains(out, "set "+setID) || !strings.Contains(out, "7 members") {
		t.Fatalf("list: %d %q", code, out)
	}
	code, out, errs = runCLI(t, env, "backup", "drill", "--set", "--scratch", t.TempDir())
	if code != exitOK || !strings.Contains(out, "set "+setID+" PASS: restored audit, emergency, holds, incidents, keys, ledger, signing-keys, users") {
		t.Fatalf("drill --set: %d %q %q", code, out, errs)
	}

	// Shredded after the backup: the configured ledger keeps it shredded
	// in the restore.
	if d, err = hipaakit.Open(ctx, hipaakit.Config{DataDir: data, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Shredder.Shred(ctx, "patient-3", "patient request"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(root, "restored")
	if code, out, errs = runCLI(t, env, "backup", "restore", "--set", "latest"); code != exitUsage {
		t.Fatalf("restore --set without --to: %d %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, env, "backup", "restore", "--set", setID, "--to", restored)
	if code != exitOK || !strings.Contains(out, "1 kept shredded by the disposal ledger") || !strings.Contains(out, "set "+setID+" restored: 7 members") {
		t.Fatalf("restore --set: %d %q %q", code, out, errs)
	}
	// The keys the operator keeps apart from the backups.
	for from, to := range map[string]string{hipaakit.DefaultKeyFile(data): hipaakit.DefaultKeyFile(restored),
		filepath.Join(data, hipaakit.FileSigningKey): filepath.Join(restored, hipaakit.FileSigningKey)} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d2, err := hipaakit.Open(ctx, hipaakit.Config{DataDir: restored, Logger: quiet})
	if err != nil {
		t.Fatalf("open the restored deployment: %v", err)
	}
	defer d2.Close()
	if u, err := d2.Users.Get(ctx, user.ID); err != nil || u.Name != "alice" {
		t.Fatalf("restored user: %+v %v", u, err)
	}
	if holds, err := d2.Holds.Active(ctx); err != nil || len(holds) != 1 {
		t.Fatalf("restored holds: %+v %v", holds, err)
	}
	if v, err := d2.Vault.Open(ctx, bind("patient-2"), sealed["patient-2"]); err != nil || string(v.Reveal()) != "Jane Doe" {
		t.Fatalf("kept patient: %v", err)
	}
	for _, s := range []string{"patient-1", "patient-3"} {
		if _, err := d2.Vault.Open(ctx, bind(s), sealed[s]); !errors.Is(err, phi.ErrShredded) {
			t.Fatalf("shredded %s after the restore: %v", s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(restored, "deployment", "trusted-keys.pem")); err != nil {
		t.Fatalf("trusted keys not restored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(restored, hipaakit.FileEmergency)); err != nil {
		t.Fatalf("the emergency log is not where the deployment reads it: %v", err)
	}

	second := filepath.Join(root, "repo2")
	if code, out, errs = runCLI(t, env, "backup", "copy", "--set", "latest", "--to-repo", second); code != exitOK || !strings.Contains(out, "set "+setID+" copied: 7 members") {
		t.Fatalf("copy --set: %d %q %q", code, out, errs)
	}
	env2 := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": second, "USER": "ops"}
	if code, out, _ = runCLI(t, env2, "backup", "list"); code != exitOK || !strings.Contains(out, "set "+setID) {
		t.Fatalf("list of the copy: %d %q", code, out)
	}
}

// TestCLIBackupSetPostgres: on PostgreSQL, `backup create --all` backs up
// the main schema and the ledger's (one snapshot) with the key store and
// the trusted keys; the set drills; `backup restore --set --to-schema`
// restores it into a new schema pair, and a deployment opened on them has
// the user and the hold, opens the kept patient and not the shredded one.
func TestCLIBackupSetPostgres(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, schema := hipaakittest.PostgresSchema(t)
	restoredSchema := schema + "_r"
	t.Cleanup(func() {
		for _, s := range []string{schema + hipaakit.LedgerSchemaSuffix, restoredSchema, restoredSchema + hipaakit.LedgerSchemaSuffix} {
			pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE")
		}
	})
	url := func(s string) string {
		sep := "?"
		if strings.Contains(hipaakittest.PostgresURL(), "?") {
			sep = "&"
		}
		return hipaakittest.PostgresURL() + sep + "search_path=" + s
	}
	root := t.TempDir()
	data := filepath.Join(root, "data")
	d, err := hipaakit.Open(ctx, hipaakit.Config{DataDir: data, DatabaseURL: url(schema), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	user := &auth.User{ID: auth.NewUserID(), TenantID: "t1", Name: "alice", Status: auth.StatusActive}
	if err := d.Users.Create(ctx, user); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Holds.Set(ctx, retention.HoldRequest{Subject: "patient-9", Reason: "litigation", SetBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	sealed := map[string]phi.Sealed{}
	bind := func(s string) phi.Binding { return phi.Binding{Subject: s, Field: "name", Tenant: "t1"} }
	for _, s := range []string{"patient-1", "patient-2"} {
		if sealed[s], err = d.Vault.Seal(ctx, bind(s), []byte("Jane Doe")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Shredder.Shred(ctx, "patient-1", "retention expired"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"HIPAAKIT_DATA_DIR": data, envDatabaseURL: url(schema), "HIPAAKIT_BACKUP_REPO": filepath.Join(root, "repo"), "USER": "ops"}
	code, out, errs := runCLI(t, env, "backup", "create", "--all")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 5 || !strings.Contains(out, " postgres records,audit,users,holds,emergency") || !strings.Contains(out, " postgres ledger") {
		t.Fatalf("create --all: %d %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, env, "backup", "drill", "--set")
	if code != exitOK || !strings.Contains(out, "PASS: restored audit, emergency, holds, incidents, keys, ledger, records, signing-keys, users") {
		t.Fatalf("drill --set: %d %q %q", code, out, errs)
	}
	restored := filepath.Join(root, "restored")
	if code, out, errs = runCLI(t, env, "backup", "restore", "--set", "latest", "--to", restored); code != exitUsage {
		t.Fatalf("restore of a PostgreSQL set without --to-schema: %d %q %q", code, out, errs)
	}
	code, out, errs = runCLI(t, env, "backup", "restore", "--set", "latest", "--to", restored, "--to-schema", restoredSchema)
	if code != exitOK || !strings.Contains(out, "restored: 4 members") {
		t.Fatalf("restore --set: %d %q %q", code, out, errs)
	}
	for from, to := range map[string]string{hipaakit.DefaultKeyFile(data): hipaakit.DefaultKeyFile(restored),
		filepath.Join(data, hipaakit.FileSigningKey): filepath.Join(restored, hipaakit.FileSigningKey)} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d2, err := hipaakit.Open(ctx, hipaakit.Config{DataDir: restored, DatabaseURL: url(restoredSchema), Logger: quiet})
	if err != nil {
		t.Fatalf("open the restored deployment: %v", err)
	}
	defer d2.Close()
	if u, err := d2.Users.Get(ctx, user.ID); err != nil || u.Name != "alice" {
		t.Fatalf("restored user: %+v %v", u, err)
	}
	if holds, err := d2.Holds.Active(ctx); err != nil || len(holds) != 1 {
		t.Fatalf("restored holds: %+v %v", holds, err)
	}
	if v, err := d2.Vault.Open(ctx, bind("patient-2"), sealed["patient-2"]); err != nil || string(v.Reveal()) != "Jane Doe" {
		t.Fatalf("kept patient: %v", err)
	}
	if _, err := d2.Vault.Open(ctx, bind("patient-1"), sealed["patient-1"]); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("shredded patient after the restore: %v", err)
	}
}
