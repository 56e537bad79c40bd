package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// TestPasskeyRolesPolicy: a tenant requiring passkeys for a role refuses a
// session of that role established with password and TOTP (403
// "passkey_required", audited), accepts one from a passkey login, and
// leaves other roles alone.
func TestPasskeyRolesPolicy(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic-a", PasskeyRoles: []string{"physician"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newSvcEnv(t, withPasskeys, func(c *auth.Config) { c.Tenants = tenants })
	ctx := context.Background()
	e.svc.HandleFunc("GET /x", "patient:read", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	h := e.svc.Handler()

	u, err := e.svc.CreateUser(ctx, auth.NewUser{TenantID: "clinic-a", Name: "doc", Roles: []string{"physician"}, Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := e.svc.Begin(ctx, httptest.NewRecorder(), nil, u, true) // password + TOTP
	if err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "GET", "/x", tok); rr.Code != 403 || !strings.Contains(rr.Body.String(), "passkey_required") {
		t.Fatalf("TOTP session of a passkey role: %d %s", rr.Code, rr.Body)
	}
	if len(e.rec.find(audit.ActionPermissionDenied, "passkey_required")) != 1 {
		t.Fatal("passkey_required refusal not audited")
	}

	a := newSoftAuthenticator(t, testRPID, testOrigin)
	register(t, e, u.ID, a)
	opts, err := e.svc.BeginPasskeyLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	pu, err := e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "", audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	s, tok, err := e.svc.BeginPasskeySession(ctx, httptest.NewRecorder(), nil, pu)
	if err != nil || !s.Passkey || !s.MFA {
		t.Fatalf("BeginPasskeySession: %+v %v", s, err)
	}
	if rr := do(h, "GET", "/x", tok); rr.Code != 200 {
		t.Fatalf("passkey session of a passkey role: %d %s", rr.Code, rr.Body)
	}

	// A role outside PasskeyRoles is not affected.
	lab := e.signIn(t, "lab", "lab_assistant")
	if rr := do(h, "GET", "/x", lab); rr.Code != 403 || strings.Contains(rr.Body.String(), "passkey_required") {
		t.Fatalf("other role: %d %s", rr.Code, rr.Body)
	}
}
