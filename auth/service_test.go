package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
)

// svcEnv is a Service over memory stores with the test policy file.
type svcEnv struct {
	svc   *auth.Service
	users auth.UserStore
	rec   *recorder
	clk   *clock.Fake
}

func newSvcEnv(t *testing.T, mod ...func(*auth.Config)) *svcEnv {
	t.Helper()
	e := &svcEnv{users: auth.NewMemoryUserStore(), rec: &recorder{}, clk: clock.NewFake(t0)}
	cfg := auth.Config{Users: e.users, Sessions: auth.NewMemorySessionStore(), Emergencies: auth.NewMemoryEmergencyLog(),
		Audit: e.rec, RBAC: loadPolicy(t, "policy_v1.json").RBAC, Argon2: fastArgon2, Clock: e.clk}
	for _, m := range mod {
		m(&cfg)
	}
	svc, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

// fastArgon2 makes test logins cheap.
var fastArgon2 = password.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// signIn creates name with roles and a password, logs in through the
// Service and returns the session token.
func (e *svcEnv) signIn(t *testing.T, name string, roles ...string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.svc.CreateUser(ctx, auth.NewUser{TenantID: "clinic-a", Name: name, Roles: roles, Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Login(ctx, auth.LoginRequest{TenantID: "clinic-a", Name: name, Password: testPassword, ClientKey: "192.0.2.1"})
	if err != nil || !res.Authenticated {
		t.Fatalf("login: %v %+v", err, res)
	}
	_, tok, err := e.svc.Begin(ctx, httptest.NewRecorder(), nil, res.User, res.MFA)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestNewRequiresDurableEmergencyLog(t *testing.T) {
	_, err := auth.New(auth.Config{Users: auth.NewMemoryUserStore(), Sessions: auth.NewMemorySessionStore(), Audit: audit.Discard{}})
	if !errors.Is(err, auth.ErrNoEmergencyLog) {
		t.Fatalf("nil Config.Emergencies: %v", err)
	}
	for _, want := range []string{"filestore", "pgauth", "memstore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say to use %s: %v", want, err)
		}
	}
	for name, cfg := range map[string]auth.Config{
		"users":    {Sessions: auth.NewMemorySessionStore(), Emergencies: auth.NewMemoryEmergencyLog(), Audit: audit.Discard{}},
		"sessions": {Users: auth.NewMemoryUserStore(), Emergencies: auth.NewMemoryEmergencyLog(), Audit: audit.Discard{}},
		"audit":    {Users: auth.NewMemoryUserStore(), Sessions: auth.NewMemorySessionStore(), Emergencies: auth.NewMemoryEmergencyLog()},
	} {
		if _, err := auth.New(cfg); err == nil || !strings.Contains(strings.ToLower(err.Error()), name) {
			t.Errorf("missing %s: %v", name, err)
		}
	}
}

// The bug the one constructor fixes: with only the Authenticator knowing
// the password policy, the policy step ignored its MaxAge.
func TestServiceEnforcesPasswordMaxAge(t *testing.T) {
	pp := password.DefaultPolicy()
	pp.MaxAge = 90 * 24 * time.Hour
	e := newSvcEnv(t, func(c *auth.Config) { c.Passwords = pp })
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	e.svc.Handle("GET /patients/{id}", "patient:read", ok)
	h := e.svc.Handler()
	tok := e.signIn(t, "doc", "physician")
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 200 {
		t.Fatalf("fresh password: %d %s", rr.Code, rr.Body)
	}
	e.clk.Advance(91 * 24 * time.Hour)
	// A new session (the old one timed out) under an expired password.
	u, err := e.users.GetByName(context.Background(), "clinic-a", "doc")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err = e.svc.Begin(context.Background(), httptest.NewRecorder(), nil, u, false)
	if err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "GET", "/patients/1", tok); rr.Code != 403 || !strings.Contains(rr.Body.String(), "password_expired") {
		t.Fatalf("expired password: %d %s", rr.Code, rr.Body)
	}
}

// Handler puts a route behind session → policy → RBAC → the middleware of
// Use, in that order.
func TestServiceChainOrder(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic-b", RequireMFA: true})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := auth.NewKeySealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := newSvcEnv(t, func(c *auth.Config) { c.Tenants, c.Sealer = tenants, sealer })
	var seen []string // what the Use middleware saw, in order
	e.svc.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a, _ := auth.ActorFromRequest(r)
			seen = append(seen, a.UserID)
			next.ServeHTTP(w, r)
		})
	})
	e.svc.HandleFunc("GET /x", "patient:read", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	h := e.svc.Handler()
	if rr := do(h, "GET", "/x", ""); rr.Code != 401 {
		t.Fatalf("no session: %d", rr.Code)
	}
	nurse := e.signIn(t, "lab", "lab_assistant")
	if rr := do(h, "GET", "/x", nurse); rr.Code != 403 {
		t.Fatalf("without the permission: %d", rr.Code)
	}
	if len(e.rec.find(audit.ActionPermissionDenied, "no_permission")) != 1 {
		t.Fatal("the RBAC denial was not audited")
	}
	if len(seen) != 0 {
		t.Fatalf("the inner middleware ran before the RBAC decision: %v", seen)
	}
	doc := e.signIn(t, "doc", "physician")
	if rr := do(h, "GET", "/x", doc); rr.Code != 200 || rr.Body.String() != "ok" {
		t.Fatalf("with the permission: %d %s", rr.Code, rr.Body)
	}
	if len(seen) != 1 || seen[0] == "" {
		t.Fatalf("the inner middleware did not see the actor: %v", seen)
	}
	// The policy step runs before RBAC: an MFA tenant refuses a
	// password-only session even with the permission.
	ctx := context.Background()
	u, err := e.svc.CreateUser(ctx, auth.NewUser{TenantID: "clinic-b", Name: "doc", Roles: []string{"physician"}, Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := e.svc.Begin(ctx, httptest.NewRecorder(), nil, u, false)
	if err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "GET", "/x", tok); rr.Code != 403 || !strings.Contains(rr.Body.String(), "mfa_required") {
		t.Fatalf("password-only session in an MFA tenant: %d %s", rr.Code, rr.Body)
	}
}

// A rejected role request leaves the roles as they were and is audited.
func TestServiceRejectRoles(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{ApprovePHIGrants: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newSvcEnv(t, func(c *auth.Config) {
		c.Tenants, c.AdminRoles, c.PHIRoles = tenants, []string{"privacy_officer"}, []string{"physician"}
	})
	ctx := context.Background()
	u, err := e.svc.CreateUser(ctx, auth.NewUser{TenantID: "clinic-a", Name: "lab", Roles: []string{"lab_assistant"}, Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	admin := audit.Actor{UserID: "admin-1", TenantID: "clinic-a"}
	if err := e.svc.SetRoles(ctx, u.ID, []string{"physician"}, admin, audit.Origin{}); !errors.Is(err, auth.ErrApprovalPending) {
		t.Fatalf("PHI grant: %v", err)
	}
	if err := e.svc.RejectRoles(ctx, u.ID, audit.Actor{UserID: u.ID}, audit.Origin{}); !errors.Is(err, auth.ErrSelfAdministration) {
		t.Fatalf("self rejection: %v", err)
	}
	if err := e.svc.RejectRoles(ctx, u.ID, audit.Actor{UserID: "admin-2", TenantID: "clinic-a"}, audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	got, err := e.users.Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RoleRequest != nil || len(got.Roles) != 1 || got.Roles[0] != "lab_assistant" {
		t.Fatalf("after rejection: roles %v, request %v", got.Roles, got.RoleRequest)
	}
	ev := e.rec.find(audit.ActionRoleChanged, "rejected")
	if len(ev) != 1 || ev[0].Attrs["requested_by"] != "admin-1" || ev[0].Attrs["requested_roles"] != "[physician]" {
		t.Fatalf("rejection events: %+v", ev)
	}
	if err := e.svc.RejectRoles(ctx, u.ID, audit.Actor{UserID: "admin-2"}, audit.Origin{}); !errors.Is(err, auth.ErrNoRoleRequest) {
		t.Fatalf("second rejection: %v", err)
	}
}

// Unusable hashing parameters are refused at construction, naming the field.
func TestNewRefusesBadArgon2(t *testing.T) {
	cfg := auth.Config{Users: auth.NewMemoryUserStore(), Sessions: auth.NewMemorySessionStore(),
		Emergencies: auth.NewMemoryEmergencyLog(), Audit: audit.Discard{}, Argon2: password.Argon2Params{Memory: 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
	if _, err := auth.New(cfg); err == nil || !strings.Contains(err.Error(), "Config.Argon2") {
		t.Fatalf("tiny memory: %v", err)
	}
	cfg.Argon2, cfg.MaxConcurrentHashes = password.Argon2Params{}, -1
	if _, err := auth.New(cfg); err == nil {
		t.Fatal("negative MaxConcurrentHashes accepted")
	}
}
