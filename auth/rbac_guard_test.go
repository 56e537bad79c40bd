package auth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// guardEnv wires session → policy → guard with the test policy file.
func guardEnv(t *testing.T) (*env, *auth.Guard, http.Handler) {
	t.Helper()
	e := newEnv(t)
	p := loadPolicy(t, "policy_v1.json")
	g := auth.NewGuard(e.sm, p.RBAC)
	ok := func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }
	g.HandleFunc("GET /patients/{id}", "patient:read", ok)
	g.HandleFunc("PUT /patients/{id}", "patient:write", ok, auth.Sensitive())
	g.HandleFunc("PUT /labs/{id}", "lab_result:update", ok)
	g.HandleFunc("GET /records/{owner}", "record:read_own", ok, auth.Check(func(r *http.Request, p *auth.Principal) (bool, error) {
		if r.PathValue("owner") == "broken" {
			return false, errors.New("lookup failed")
		}
		return r.PathValue("owner") == p.UserID, nil
	}), auth.SubjectParam("owner"))
	return e, g, e.sm.Middleware(e.sm.EnforcePolicy(g))
}

func TestGuardDenyByDefault(t *testing.T) {
	e, _, h := guardEnv(t)
	// Even a user holding every role cannot reach an unregistered route.
	u := e.addUser("root", "lab_assistant", "mobile_worker", "physician", "privacy_officer")
	tok := e.login(u, true)
	for _, path := range []string{"/", "/admin", "/patients", "/patients/1/notes"} {
		if rr := do(h, "GET", path, tok); rr.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rr.Code)
		}
	}
	if len(e.rec.find(audit.ActionPermissionDenied, "no_route")) != 4 {
		t.Fatal("unregistered routes not audited as denials")
	}
	if rr := do(h, "GET", "/patients/7", ""); rr.Code != 401 {
		t.Fatalf("no session: %d", rr.Code)
	}
}

func TestGuardRoles(t *testing.T) {
	e, _, h := guardEnv(t)
	doc := e.addUser("doc", "physician")
	lab := e.addUser("lab", "lab_assistant")
	ghost := e.addUser("ghost", "janitor") // a role the policy does not define
	dt, lt, gt := e.login(doc, true), e.login(lab, true), e.login(ghost, true)
	csrf := func(tok string) []string { return []string{"X-CSRF-Token", csrfOf(t, e, tok)} }
	check := func(tok, method, path string, want int) {
		t.Helper()
		if rr := do(h, method, path, tok, csrf(tok)...); rr.Code != want {
			t.Errorf("%s %s: %d, want %d", method, path, rr.Code, want)
		}
	}
	check(dt, "GET", "/patients/1", 200)
	check(dt, "PUT", "/patients/1", 200)
	check(dt, "PUT", "/labs/1", 403)
	check(lt, "PUT", "/labs/1", 200)
	check(lt, "GET", "/patients/1", 403)
	check(gt, "GET", "/patients/1", 403)
	denials := e.rec.find(audit.ActionPermissionDenied, "no_permission")
	if len(denials) != 3 {
		t.Fatalf("%d denials audited, want 3", len(denials))
	}
	if d := denials[0]; d.Actor.UserID != doc.ID || d.Origin.Route != "PUT /labs/{id}" || d.Outcome != audit.OutcomeFailure || d.Attrs["permission"] != "lab_result:update" {
		t.Fatalf("denial event: %+v", d)
	}
	// Headers and query parameters never grant roles.
	if rr := do(h, "GET", "/patients/1?role=physician", lt, "X-Role", "physician", "X-User-Roles", "physician"); rr.Code != 403 {
		t.Fatalf("role taken from the request: %d", rr.Code)
	}
}

func TestGuardRoleChangeAppliesNextRequest(t *testing.T) {
	e, _, h := guardEnv(t)
	u := e.addUser("lab", "lab_assistant")
	tok := e.login(u, true)
	if do(h, "GET", "/patients/1", tok).Code != 403 {
		t.Fatal("precondition")
	}
	u, _ = e.users.Get(context.Background(), u.ID)
	u.Roles = []string{"physician"}
	if err := e.users.Update(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 200 {
		t.Fatalf("granted role not applied on the next request: %d", rr.Code)
	}
	u.Roles = nil
	if err := e.users.Update(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 403 {
		t.Fatalf("revoked role still applied: %d", rr.Code)
	}
}

func TestGuardAttributeCheck(t *testing.T) {
	e, _, h := guardEnv(t)
	u := e.addUser("mobile", "mobile_worker")
	tok := e.login(u, true)
	if rr := do(h, "GET", "/records/"+u.ID, tok); rr.Code != 200 {
		t.Fatalf("own records: %d", rr.Code)
	}
	if rr := do(h, "GET", "/records/someone-else", tok); rr.Code != 403 {
		t.Fatalf("others' records: %d", rr.Code)
	}
	if rr := do(h, "GET", "/records/broken", tok); rr.Code != 503 {
		t.Fatalf("failing check: %d", rr.Code)
	}
	denied := e.rec.find(audit.ActionPermissionDenied, "attribute_check")
	if len(denied) != 1 {
		t.Fatal("attribute denial not audited")
	}
	if d := denied[0]; d.Target.Subject != "someone-else" || d.Outcome != audit.OutcomeFailure || d.Actor.UserID != u.ID {
		t.Fatalf("IDOR denial must name the requested subject: %+v", d)
	}
	failed := e.rec.find(audit.ActionPermissionDenied, "attribute_check_error")
	if len(failed) != 1 || failed[0].Outcome != audit.OutcomeFailure || failed[0].Target.Subject != "broken" ||
		failed[0].Attrs["permission"] != "record:read_own" {
		t.Fatalf("an attribute-check error must be audited as a failure: %+v", failed)
	}
}

func TestGuardSensitiveRoute(t *testing.T) {
	e, _, h := guardEnv(t)
	tok := e.login(e.addUser("doc", "physician"), true)
	e.clk.Advance(10 * time.Minute)
	c := csrfOf(t, e, tok)
	e.clk.Advance(10 * time.Minute)
	if rr := do(h, "PUT", "/patients/1", tok, "X-CSRF-Token", c); rr.Code != 401 || !strings.Contains(rr.Body.String(), "reauthentication_required") {
		t.Fatalf("sensitive route with a 20-minute-old authentication: %d %s", rr.Code, rr.Body.String())
	}
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 200 {
		t.Fatalf("non-sensitive route: %d", rr.Code)
	}
}

func TestGuardTenantRequiresMFA(t *testing.T) {
	e, _, h := guardEnv(t)
	e.sm.Policies = loadPolicy(t, "policy_v1.json").Tenants
	u := e.addUser("doc", "physician")
	if rr := do(h, "GET", "/patients/1", e.login(u, false)); rr.Code != 403 || !strings.Contains(rr.Body.String(), "mfa_required") {
		t.Fatalf("session without MFA in an MFA tenant: %d %s", rr.Code, rr.Body.String())
	}
	if rr := do(h, "GET", "/patients/1", e.login(u, true)); rr.Code != 200 {
		t.Fatalf("session with MFA: %d", rr.Code)
	}
}

func TestGuardAuditGrants(t *testing.T) {
	e, g, h := guardEnv(t)
	g.AuditGrants = true
	tok := e.login(e.addUser("doc", "physician"), true)
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 200 {
		t.Fatal(rr.Code)
	}
	gr := e.rec.find(audit.ActionPermissionGranted, "patient:read")
	if len(gr) != 1 || gr[0].Actor.Role != "physician" {
		t.Fatalf("grant events: %+v", gr)
	}
	e.rec.setFail(true)
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 503 {
		t.Fatalf("grant without audit: %d, want 503", rr.Code)
	}
	e.rec.setFail(false)
}

func TestGuardRegistrationErrors(t *testing.T) {
	e := newEnv(t)
	g := auth.NewGuard(e.sm, loadPolicy(t, "policy_v1.json").RBAC)
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	h := http.NotFoundHandler()
	mustPanic("undeclared", func() { g.Handle("GET /x", "patient:delete", h) })
	mustPanic("malformed", func() { g.Handle("GET /x", "", h) })
	mustPanic("nil handler", func() { g.Handle("GET /x", "patient:read", nil) })
	g.Handle("GET /x", "patient:read", h)
	narrow, err := policy.NewRBAC([]policy.Permission{"lab_result:update"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetRBAC(narrow); !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("SetRBAC dropping a routed permission: %v", err)
	}
	if _, ok := g.RBAC().Allows([]string{"physician"}, "", "patient:read"); !ok {
		t.Fatal("refused SetRBAC changed the policy")
	}
}

type fixedPasswords struct{ p password.Policy }

func (f fixedPasswords) PasswordPolicyFor(context.Context, string) (password.Policy, error) {
	return f.p, nil
}

func TestEnforcePolicyPasswordExpired(t *testing.T) {
	e, _, h := guardEnv(t)
	pp := password.DefaultPolicy()
	pp.MaxAge = 90 * 24 * time.Hour
	e.sm.Passwords = fixedPasswords{pp}
	u := e.addUser("doc", "physician")
	tok := e.login(u, true)
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 200 {
		t.Fatalf("user without a password change date: %d", rr.Code)
	}
	u, _ = e.users.Get(context.Background(), u.ID)
	u.PasswordChangedAt = t0.Add(-91 * 24 * time.Hour)
	if err := e.users.Update(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 403 || !strings.Contains(rr.Body.String(), "password_expired") {
		t.Fatalf("expired password: %d %s", rr.Code, rr.Body.String())
	}
	u, _ = e.users.Get(context.Background(), u.ID)
	u.PasswordChangedAt = t0.Add(-time.Hour)
	e.users.Update(context.Background(), u)
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 200 {
		t.Fatalf("fresh password: %d", rr.Code)
	}
}
