package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// The tenant policy is given to the Authenticator only (Config.Tenants);
// the SessionManager wired to it (Config.Sessions) has no Policies of its
// own. A password-only session must still be refused on protected routes:
// before the link the manager applied no policy and let it through.
func TestManagerReadsAuthenticatorPolicy(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic-a", RequireMFA: true})
	if err != nil {
		t.Fatal(err)
	}
	he := newHandlerEnv(t, func(c *auth.Config) { c.Tenants = tenants })
	if he.sm.Policies != nil {
		t.Fatal("test setup: the manager must have no Policies of its own")
	}
	he.createUser(t, "doc", "physician")
	rr := he.call("POST", "/auth/login", loginJSON("doc", testPassword), "", "")
	m := jsonBody(t, rr)
	if rr.Code != 200 || m["mfa"] != false {
		t.Fatalf("password login: %d %v", rr.Code, m)
	}
	tok := sessionCookie(rr).Value
	if rr := he.call("GET", "/patients/1", "", tok, ""); rr.Code != 403 || !strings.Contains(rr.Body.String(), "mfa_required") {
		t.Fatalf("password-only session in an MFA tenant: %d %s", rr.Code, rr.Body.String())
	}
	// Clearing the manager's Policies after construction cannot drop the
	// Authenticator's policy.
	he.sm.Policies = nil
	if rr := he.call("GET", "/patients/1", "", tok, ""); rr.Code != 403 {
		t.Fatalf("after clearing SessionManager.Policies: %d", rr.Code)
	}
	// Setting a different source later makes the manager fail closed.
	other, err := policy.NewTenants(policy.Tenant{})
	if err != nil {
		t.Fatal(err)
	}
	he.sm.Policies = other
	if rr := he.call("GET", "/patients/1", "", tok, ""); rr.Code == 200 {
		t.Fatal("a different SessionManager.Policies set after construction let a password-only session through")
	}
	u := mustUser(t, he.env, "doc")
	if _, _, err := he.sm.Begin(context.Background(), nil, nil, u, false); !errors.Is(err, auth.ErrPolicySourceConflict) {
		t.Fatalf("Begin under conflicting sources: %v", err)
	}
	// The same source on both sides is accepted.
	he.sm.Policies = tenants
	if rr := he.call("GET", "/patients/1", "", tok, ""); rr.Code != 403 {
		t.Fatalf("same source on both sides: %d", rr.Code)
	}
}

// Two different sources on the Authenticator and its SessionManager are
// refused at construction.
func TestNewAuthenticatorRefusesTwoPolicySources(t *testing.T) {
	e := newEnv(t)
	a, err := policy.NewTenants(policy.Tenant{RequireMFA: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := policy.NewTenants(policy.Tenant{})
	if err != nil {
		t.Fatal(err)
	}
	e.sm.Policies = b
	sealer, err := auth.NewKeySealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.NewAuthenticator(auth.Config{Users: e.users, Audit: e.rec, Tenants: a, Sealer: sealer}, e.sm)
	if !errors.Is(err, auth.ErrPolicySourceConflict) {
		t.Fatalf("two sources: %v, want ErrPolicySourceConflict", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "auth: ") || !strings.Contains(err.Error(), "Config.Tenants") {
		t.Fatalf("error does not name the fields: %v", err)
	}
}

// A source set on the SessionManager only is adopted by the Authenticator,
// so that its construction checks (a sealer for MFA) see it too.
func TestAuthenticatorAdoptsManagerPolicy(t *testing.T) {
	e := newEnv(t)
	p, err := policy.NewTenants(policy.Tenant{RequireMFA: true})
	if err != nil {
		t.Fatal(err)
	}
	e.sm.Policies = p
	_, err = auth.NewAuthenticator(auth.Config{Users: e.users, Audit: e.rec}, e.sm)
	if !errors.Is(err, auth.ErrMFAWithoutSealer) {
		t.Fatalf("MFA policy on the manager only, no sealer: %v, want ErrMFAWithoutSealer", err)
	}
}
