package main

import (
	"context"
	"github.com/hipaakit/hipaakit"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// userSetup creates a locked user with an active second factor in users.
func userSetup(t *testing.T, users auth.UserStore) *auth.User {
	t.Helper()
	ctx := context.Background()
	a, err := auth.New(auth.Config{Users: users, Audit: audit.Discard{}, Sessions: memstore.NewSessionStore(),
		Emergencies: memstore.NewEmergencyLog(), Argon2: password.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.CreateUser(ctx, auth.NewUser{TenantID: "clinic", Name: "nina", Roles: []string{"nurse"}, Password: "violet-harbor-lantern-42"},
		audit.Actor{}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	u.Lockout = auth.LockoutState{Failures: 10, LastFailure: now, LockedAt: now}
	u.MFA = auth.MFA{TOTPSecret: []byte("sealed-secret-stand-in"), TOTPActive: true, TOTPDigits: 6, TOTPPeriod: 30,
		TOTPAlgorithm: "SHA1", TOTPEnrolledAt: now}
	if err := users.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// userCommands runs every user command against env and checks the store
// (reopened by get after each command) and the audit trail (target).
func userCommands(t *testing.T, env map[string]string, target string, id string, get func() *auth.User) {
	t.Helper()
	cmd := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, append([]string{"user"}, args...)...)
		if code != want {
			t.Fatalf("user %v: exit %d, want %d; %s %s", args, code, want, out, errOut)
		}
		return out
	}
	out := cmd(exitOK, "list", "--tenant", "clinic")
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) != 7 || f[0] != id || f[1] != "nina" || f[5] != "10" || f[6] == "-" {
		t.Fatalf("list: %q", out)
	}
	cmd(exitOK, "unlock", "--tenant", "clinic", "nina", "--by", "ops-anna")
	if u := get(); u.Lockout != (auth.LockoutState{}) {
		t.Fatalf("unlock left %+v", u.Lockout)
	}
	cmd(exitOK, "disable", id, "--by", "ops-anna")
	if get().Status != auth.StatusDisabled {
		t.Fatal("disable did not disable")
	}
	cmd(exitCheck, "recovery-codes", id) // a disabled user gets no codes
	cmd(exitOK, "enable", id, "--by", "ops-anna")
	if get().Status != auth.StatusActive {
		t.Fatal("enable did not enable")
	}
	out = cmd(exitOK, "recovery-codes", id, "--by", "ops-anna")
	if n := len(strings.Fields(out)); n != 10 || len(get().MFA.RecoveryCodes) != n {
		t.Fatalf("recovery-codes printed %d codes", n)
	}
	cmd(exitOK, "reset-mfa", id, "--by", "ops-anna")
	if get().MFA.TOTPActive {
		t.Fatal("reset-mfa left TOTP active")
	}
	cmd(exitCheck, "recovery-codes", id) // no second factor any more
	cmd(exitCheck, "unlock", "no-such-user-id")
	cmd(exitCheck, "unlock", "--tenant", "clinic", "nobody")
	cmd(exitUsage, "unlock")
	cmd(exitUsage, "list")
	cmd(exitUsage, "frobnicate")

	_, trail, errOut := runCLI(t, env, "audit", "query", "--verify=false", "--limit", "100", "--format", "jsonl", target)
	for _, reason := range []string{"unlocked", "recovery_codes_regenerated", "totp_disabled"} {
		if !strings.Contains(trail, `"`+reason+`"`) {
			t.Fatalf("audit trail lacks %s: %s %s", reason, trail, errOut)
		}
	}
	if strings.Count(trail, `"ops-anna"`) < 5 {
		t.Fatalf("the operator is not the actor of every change: %s", trail)
	}
}

// On the file stores of a stopped service.
func TestCLIUserFile(t *testing.T) {
	dir := t.TempDir()
	deployed(t, hipaakit.Config{DataDir: dir})
	open := func() *filestore.UserStore {
		st, err := filestore.OpenUserStore(dir + "/users")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	u := userSetup(t, st)
	st.Close()
	get := func() *auth.User {
		st := open()
		defer st.Close()
		cur, err := st.Get(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	userCommands(t, map[string]string{"HIPAAKIT_DATA_DIR": dir}, dir+"/audit", u.ID, get)
	if code, _, _ := runCLI(t, nil, "user", "list", "--tenant", "clinic"); code != exitUsage {
		t.Fatalf("no data dir: exit %d, want %d", code, exitUsage)
	}
}

// On a live PostgreSQL deployment: the service's store stays open.
func TestCLIUserPostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	sep := "?"
	if strings.Contains(hipaakittest.PostgresURL(), "?") {
		sep = "&"
	}
	url := hipaakittest.PostgresURL() + sep + "search_path=" + schema
	deployed(t, hipaakit.Config{DataDir: t.TempDir(), DatabaseURL: url})
	users := pgauth.NewUserStore(pool)
	u := userSetup(t, users)
	env := map[string]string{envDatabaseURL: url, hipaakit.EnvSigningKeyFile: drWriteKey(t, t.TempDir(), "audit.pem")}
	get := func() *auth.User {
		cur, err := users.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur
	}
	userCommands(t, env, "pg", u.ID, get)
}

// deployed opens and closes the deployment cfg describes, as its service's
// first start would: every store, the schemas and the signing key exist
// afterwards.
func deployed(t *testing.T, cfg hipaakit.Config) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	d, err := hipaakit.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
