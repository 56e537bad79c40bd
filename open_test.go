package hipaakit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// open opens cfg, failing the test on error, and closes it at the end.
func open(t *testing.T, cfg hipaakit.Config) *hipaakit.Deployment {
	t.Helper()
	d, err := hipaakit.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// embedded is a Config on the embedded defaults in a fresh directory, with
// a fake clock and the log in logs.
func embedded(t *testing.T, logs *bytes.Buffer) (hipaakit.Config, *clock.Fake) {
	clk := clock.NewFake(t0)
	cfg := hipaakit.Config{DataDir: filepath.Join(t.TempDir(), "data"), Clock: clk}
	var out io.Writer = io.Discard
	if logs != nil {
		out = logs
	}
	cfg.Logger = slog.New(slog.NewTextHandler(out, nil))
	return cfg, clk
}

func TestOpenEmbedded(t *testing.T) {
	logs := &bytes.Buffer{}
	cfg, clk := embedded(t, logs)
	d := open(t, cfg)
	exercise(t, d, clk)
	if !strings.Contains(logs.String(), "created the local master key") || !strings.Contains(logs.String(), "data.master-key") {
		t.Fatalf("the first start did not announce the key file: %s", logs)
	}
	if d.KeyInsideDataDir() {
		t.Fatal("the default key is inside the data directory")
	}
}

func TestOpenPostgres(t *testing.T) {
	_, schema := hipaakittest.PostgresSchema(t)
	cfg, clk := embedded(t, nil)
	cfg.DatabaseURL = withSearchPath(t, hipaakittest.PostgresURL(), schema)
	d := open(t, cfg)
	if d.DB == nil || d.Schema != schema || d.LedgerSchema != schema+hipaakit.LedgerSchemaSuffix {
		t.Fatalf("schemas %q %q", d.Schema, d.LedgerSchema)
	}
	t.Cleanup(func() { dropSchema(t, d.LedgerSchema) })
	exercise(t, d, clk)
}

// exercise seals and opens a value, logs a user in with MFA, checks the
// audit trail and runs a backup and its restore drills.
func exercise(t *testing.T, d *hipaakit.Deployment, clk *clock.Fake) {
	t.Helper()
	ctx := context.Background()
	b := phi.Binding{Subject: "patient-1", Field: "name", Tenant: "t1"}
	sealed, err := d.Vault.Seal(ctx, b, []byte("Jane Doe"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Vault.Open(ctx, b, sealed)
	if err != nil || string(got.Reveal()) != "Jane Doe" {
		t.Fatalf("Open: %v", err)
	}

	login(t, d, clk, "alice")

	n := 0
	for r, err := range d.Audit.Search(ctx, audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Event.Action == audit.ActionLogin {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no login event in the audit trail")
	}
	if res, err := d.Audit.Verify(ctx, audit.VerifyOptions{Keys: d.TrustedKeys()}); err != nil || len(res.Streams) == 0 {
		t.Fatalf("Verify: %+v %v", res, err)
	}
	var out bytes.Buffer
	if n, err := d.Audit.Export(ctx, &out, audit.Filter{}, audit.ExportJSONL); err != nil || n == 0 {
		t.Fatalf("Export: %d %v", n, err)
	}

	ids, err := d.BackupAll(ctx)
	if err != nil || len(ids) != len(d.BackupSources) {
		t.Fatalf("BackupAll: %v %v", ids, err)
	}
	results, err := d.Drill(ctx)
	if err != nil || len(results) != len(d.Drills) {
		t.Fatalf("Drill: %v %v", results, err)
	}
	for _, r := range results {
		if r.Err != nil || !r.Report.Pass {
			t.Fatalf("drill %s: %v", r.Kind, r.Err)
		}
	}
	set, err := d.BackupSet(ctx)
	if err != nil || len(set.Members) != len(d.BackupSources) {
		t.Fatalf("BackupSet: %+v %v", set, err)
	}
	results, err = d.DrillSet(ctx, set.ID)
	if err != nil || len(results) != len(set.Members) {
		t.Fatalf("DrillSet: %v %v", results, err)
	}
	for _, r := range results {
		if r.Err != nil || !r.Report.Pass {
			t.Fatalf("set drill %s: %v", r.Kind, r.Err)
		}
	}
}

// login creates a user, enrols TOTP and logs in with both factors.
func login(t *testing.T, d *hipaakit.Deployment, clk *clock.Fake, name string, roles ...string) *auth.User {
	t.Helper()
	ctx := context.Background()
	o := audit.Origin{Channel: audit.ChannelAPI}
	const pw = "correct horse battery staple"
	u, err := d.Auth.CreateUser(ctx, auth.NewUser{TenantID: "t1", Name: name, Password: pw, Roles: roles},
		audit.Actor{UserID: "system:test"}, o)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := d.Auth.EnrollTOTP(ctx, u.ID, o)
	if err != nil {
		t.Fatal(err)
	}
	code, err := hipaakittest.TOTPCode(enr.Secret(), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Auth.ConfirmTOTP(ctx, u.ID, code, "", o); err != nil {
		t.Fatal(err)
	}
	clk.Advance(31 * time.Second) // a fresh TOTP step
	code, _ = hipaakittest.TOTPCode(enr.Secret(), clk.Now())
	res, err := d.Auth.Login(ctx, auth.LoginRequest{TenantID: "t1", Name: name, Password: pw, TOTPCode: code, Origin: o})
	if err != nil || !res.Authenticated || !res.MFA {
		t.Fatalf("Login: %+v %v", res, err)
	}
	return res.User
}

// TestKeyOutsideDataDirAndBackups: the default master key file is beside
// the data directory, mode 0600, and no backup holds it.
func TestKeyOutsideDataDirAndBackups(t *testing.T) {
	cfg, _ := embedded(t, nil)
	d := open(t, cfg)
	key := hipaakit.DefaultKeyFile(cfg.DataDir)
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if loc := hipaakit.KeyLocation(cfg); loc.File != key || loc.InsideDataDir {
		t.Fatalf("KeyLocation = %+v", loc)
	}
	raw, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(raw))
	if _, err := os.Stat(filepath.Join(cfg.DataDir, hipaakit.FileLegacyKEK)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file in the data directory: %v", err)
	}
	if _, err := d.BackupAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Neither the data directory nor the backup directory holds the key.
	for _, dir := range []string{cfg.DataDir, d.BackupDir()} {
		if hipaakit.DefaultBackupDir(cfg.DataDir) != d.BackupDir() {
			t.Fatalf("backup dir %q", d.BackupDir())
		}
		err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil && (bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(secret[strings.Index(secret, ":")+1:]))) {
				t.Errorf("%s holds the master key", p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLegacyKeyInsideDataDir: a data directory with its own kek.key keeps
// opening, with a warning, and says so.
func TestLegacyKeyInsideDataDir(t *testing.T) {
	logs := &bytes.Buffer{}
	cfg, _ := embedded(t, logs)
	cfg.KEK.KeyFile = filepath.Join(cfg.DataDir, hipaakit.FileLegacyKEK)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	d := open(t, cfg)
	d.Close()
	cfg.KEK.KeyFile = "" // found by its legacy name
	logs.Reset()
	d = open(t, cfg)
	if !d.KeyInsideDataDir() || !hipaakit.KeyLocation(cfg).InsideDataDir {
		t.Fatal("the key inside the data directory is not reported")
	}
	if !strings.Contains(logs.String(), "inside the data directory") {
		t.Fatalf("no warning: %s", logs)
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(cfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a second key was created: %v", err)
	}
}

func TestOpenRefusesSecondProcess(t *testing.T) {
	cfg, _ := embedded(t, nil)
	open(t, cfg)
	if _, err := hipaakit.Open(context.Background(), cfg); !errors.Is(err, hipaakit.ErrDataDirLocked) {
		t.Fatalf("second Open: %v", err)
	}
}

func TestWrongKEKRefused(t *testing.T) {
	cfg, _ := embedded(t, nil)
	d := open(t, cfg)
	if _, err := d.Vault.Seal(context.Background(), phi.Binding{Subject: "p1", Field: "f"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := os.Remove(hipaakit.DefaultKeyFile(cfg.DataDir)); err != nil {
		t.Fatal(err)
	}
	_, err := hipaakit.Open(context.Background(), cfg)
	if !errors.Is(err, hipaakit.ErrWrongKEK) || !strings.Contains(err.Error(), "there is no master key file data.master-key") {
		t.Fatalf("Open without the key file: %v", err)
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(cfg.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start left a new key behind: %v", err)
	}
}
