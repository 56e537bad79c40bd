package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// passkeyBrokenEnv makes TestPasskeyFixture run a broken variant; only
// TestPasskeyBrokenFixtureFails sets it, in a child process.
const passkeyBrokenEnv = "HIPAAKIT_COMPLIANCE_PASSKEY_FIXTURE"

// passkeyFixture is a service whose tenant requires a passkey for role
// admin: sessions carry their role and whether a passkey established
// them. Variant "no-passkey-enforcement" forgets the requirement on
// /admin/users; "no-hook" leaves NonPasskeyLogin unset.
type passkeyFixture struct {
	broken   string
	mu       sync.Mutex
	sessions map[string]pkSession
}

type pkSession struct {
	role    string
	passkey bool
}

func (f *passkeyFixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	allowed := map[string][]string{"GET /admin/users": {"admin"}, "GET /schedule": {"admin", "nurse"}}[r.Method+" "+r.URL.Path]
	c, err := r.Cookie("s")
	f.mu.Lock()
	s, ok := f.sessions[cookieValue(c, err)]
	f.mu.Unlock()
	switch {
	case !ok:
		http.Error(w, "unauthenticated", http.StatusUnauthorized)
	case !contains(allowed, s.role):
		http.Error(w, "forbidden", http.StatusForbidden)
	case s.role == "admin" && !s.passkey && !(f.broken == "no-passkey-enforcement" && r.URL.Path == "/admin/users"):
		http.Error(w, "passkey_required", http.StatusForbidden)
	default:
		w.Write([]byte("ok"))
	}
}

func cookieValue(c *http.Cookie, err error) string {
	if err != nil {
		return ""
	}
	return c.Value
}

func (f *passkeyFixture) login(role string, passkey bool) Session {
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	f.mu.Lock()
	f.sessions[tok] = pkSession{role: role, passkey: passkey}
	f.mu.Unlock()
	return Session{UserID: "u-" + tok[:8], Cookies: []*http.Cookie{{Name: "s", Value: tok}}}
}

func (f *passkeyFixture) service() (Spec, Hooks) {
	spec := Spec{Roles: []string{"admin", "nurse"},
		Routes: []Route{{Method: "GET", Path: "/admin/users", Roles: []string{"admin"}},
			{Method: "GET", Path: "/schedule", Roles: []string{"admin", "nurse"}}},
		PasskeyRoles: []string{"admin"}}
	hooks := Hooks{Login: func(t T, role string) Session { return f.login(role, true) },
		NonPasskeyLogin: func(t T, role string) Session { return f.login(role, false) }}
	if f.broken == "no-hook" {
		hooks.NonPasskeyLogin = nil
	}
	return spec, hooks
}

// TestPasskeyFixture runs the passkey control against the fixture (the
// correct one unless the environment names a broken variant).
func TestPasskeyFixture(t *testing.T) {
	f := &passkeyFixture{broken: os.Getenv(passkeyBrokenEnv), sessions: map[string]pkSession{}}
	spec, hooks := f.service()
	r := inProcess(f, spec, hooks, serviceField)
	r.control(tT{t}, ControlPasskey, []hook{{r.hookName("NonPasskeyLogin"), hooks.NonPasskeyLogin != nil}}, r.checkPasskey)
	// The passkey session itself is served: the requirement is not a
	// refusal of the role.
	s := f.login("admin", true)
	if res := r.do(tT{t}, spec.Routes[0], &s, nil); res.status != http.StatusOK {
		t.Fatalf("passkey session: %d", res.status)
	}
}

// TestPasskeyBrokenFixtureFails: a service that lets a passkey role in
// without a passkey fails the control with a message naming the route and
// the role; a missing hook fails it by name.
func TestPasskeyBrokenFixtureFails(t *testing.T) {
	for broken, want := range map[string]string{
		"no-passkey-enforcement": ControlPasskey + ": GET /admin/users as admin with a session established without a passkey returned 200 OK, want 403 (the tenant requires a passkey for role admin)",
		"no-hook":                ControlPasskey + ": cannot be checked: Service.NonPasskeyLogin not set",
	} {
		t.Run(broken, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestPasskeyFixture$", "-test.v")
			cmd.Env = append(os.Environ(), passkeyBrokenEnv+"="+broken)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the passkey control passed the %s fixture:\n%s", broken, out)
			}
			if !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
			if broken == "no-passkey-enforcement" && strings.Contains(string(out), "GET /schedule as admin") {
				t.Fatalf("the route that enforces the passkey was reported:\n%s", out)
			}
		})
	}
}

// The control passes against hipaakit's own guard with
// policy.Tenant.PasskeyRoles: a password-and-TOTP session of the role is
// refused (403 "passkey_required") on every route, a passkey session served.
func TestPasskeyControlAgainstAuth(t *testing.T) {
	ctx := context.Background()
	tenants, err := policy.NewTenants(policy.Tenant{PasskeyRoles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	rbac, err := policy.NewRBAC([]policy.Permission{"user:manage", "schedule:read"},
		[]policy.Role{{Name: "admin", Permissions: []policy.Permission{"user:manage", "schedule:read"}},
			{Name: "nurse", Permissions: []policy.Permission{"schedule:read"}}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(auth.Config{Users: memstore.NewUserStore(), Sessions: memstore.NewSessionStore(),
		Emergencies: memstore.NewEmergencyLog(), Audit: audit.Discard{}, RBAC: rbac, Tenants: tenants,
		Argon2: password.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	ok := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }
	svc.HandleFunc("GET /admin/users", "user:manage", ok)
	svc.HandleFunc("GET /schedule", "schedule:read", ok)
	n := 0
	login := func(t T, role string, passkey bool) Session {
		n++
		u, err := svc.CreateUser(ctx, auth.NewUser{TenantID: "clinic-a", Name: fmt.Sprintf("user-%d", n), Roles: []string{role},
			Password: "correct horse battery staple"}, audit.Actor{UserID: "seed"}, audit.Origin{})
		if err != nil {
			t.Fatalf("%v", err)
		}
		rec := httptest.NewRecorder()
		// What a passkey login (FinishPasskeyLogin) or a password and TOTP
		// login (Login, VerifySecondFactor) hands to the session start.
		res := &auth.LoginResult{User: u, Authenticated: true, MFA: true, Passkey: passkey}
		if _, _, err := svc.BeginPasskeySession(ctx, rec, httptest.NewRequest("POST", "/login", nil), res); err != nil {
			t.Fatalf("%v", err)
		}
		return Session{UserID: u.ID, Cookies: rec.Result().Cookies()}
	}
	spec := Spec{Roles: []string{"admin", "nurse"},
		Routes: []Route{{Method: "GET", Path: "/admin/users", Roles: []string{"admin"}},
			{Method: "GET", Path: "/schedule", Roles: []string{"admin", "nurse"}}},
		PasskeyRoles: []string{"admin"}}
	hooks := Hooks{Login: func(t T, role string) Session { return login(t, role, true) },
		NonPasskeyLogin: func(t T, role string) Session { return login(t, role, false) }}
	r := inProcess(svc.Handler(), spec, hooks, serviceField)
	r.control(tT{t}, ControlPasskey, nil, r.checkPasskey)
	if t.Failed() {
		t.Fatal("the passkey control failed against the auth guard")
	}
	s := hooks.Login(tT{t}, "admin")
	if res := r.do(tT{t}, spec.Routes[0], &s, nil); res.status != http.StatusOK {
		t.Fatalf("passkey session of admin: %d %s", res.status, res.body)
	}
}
