package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Found in review: a reason of "x" broke the glass.
func TestBreakGlassReasonMinimum(t *testing.T) {
	e, g, _ := guardEnv(t)
	doc := e.addUser("doc", "physician")
	for _, reason := range []string{"x", "need it", "emergency", "a b c d e f g h i j k l m n o p q r s t", "patient unconscious"} {
		if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", reason, 0); !errors.Is(err, auth.ErrEmergencyDenied) {
			t.Errorf("reason %q: got %v, want ErrEmergencyDenied", reason, err)
		}
	}
	if got := len(e.rec.find(audit.ActionPermissionDenied, "emergency_reason_missing")); got != 5 {
		t.Fatalf("%d refusals audited, want 5", got)
	}
	if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", "patient unconscious, chart locked", 0); err != nil {
		t.Fatalf("a real reason: %v", err)
	}
	// The tenant can set its own minimum.
	pol, err := policy.NewTenants(policy.Tenant{EmergencyReasonMinChars: 4, EmergencyReasonMinWords: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.sm.Policies = pol
	if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", "x", 0); !errors.Is(err, auth.ErrEmergencyDenied) {
		t.Fatalf("x under a looser policy: %v", err)
	}
	if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", "code", 0); err != nil {
		t.Fatalf("a reason meeting the tenant's minimum: %v", err)
	}
	if _, err := policy.NewTenants(policy.Tenant{EmergencyReasonMinChars: -1}); !errors.Is(err, policy.ErrInvalid) {
		t.Fatalf("negative minimum: %v", err)
	}
}

// Found in review: a user could re-elevate without limit.
func TestBreakGlassDailyCap(t *testing.T) {
	e, g, _ := guardEnv(t)
	var al alerts
	e.sm.OnEmergency = al.hook
	doc, other := e.addUser("doc", "physician"), e.addUser("doc2", "physician")
	const reason = "mass casualty incident, trauma bay"
	for i := range auth.DefaultMaxEmergenciesPerDay {
		if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", reason, 0); err != nil {
			t.Fatalf("elevation %d: %v", i+1, err)
		}
		e.clk.Advance(time.Hour)
	}
	if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", reason, 0); !errors.Is(err, auth.ErrEmergencyDenied) {
		t.Fatalf("elevation over the cap: %v", err)
	}
	if got := len(e.rec.find(audit.ActionPermissionDenied, "emergency_daily_limit")); got != 1 {
		t.Fatalf("%d cap refusals audited, want 1", got)
	}
	if _, _, err := elevate(t, e, g, e.login(other, true), "er_override", reason, 0); err != nil {
		t.Fatalf("the cap is per user: %v", err)
	}
	starts := 0
	for _, a := range al.all() {
		if a.Started {
			starts++
		}
	}
	if starts != auth.DefaultMaxEmergenciesPerDay+1 {
		t.Fatalf("%d start alerts, want %d", starts, auth.DefaultMaxEmergenciesPerDay+1)
	}
	// 24 hours after the first elevation, one is free again.
	e.clk.Advance(22*time.Hour - auth.DefaultMaxEmergenciesPerDay*time.Hour + 3*time.Hour + time.Minute)
	if _, _, err := elevate(t, e, g, e.login(doc, true), "er_override", reason, 0); err != nil {
		t.Fatalf("after a day: %v", err)
	}
	// A tenant can lower the cap.
	pol, err := policy.NewTenants(policy.Tenant{MaxEmergenciesPerDay: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.sm.Policies = pol
	if _, _, err := elevate(t, e, g, e.login(other, true), "er_override", reason, 0); !errors.Is(err, auth.ErrEmergencyDenied) {
		t.Fatalf("tenant cap of one: %v", err)
	}
}

func TestHandlersRegenerateRecoveryCodes(t *testing.T) {
	he := newHandlerEnv(t)
	u := he.createUser(t, "doc", "physician")
	ctx := context.Background()
	enr, err := he.a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := pqtotp.GenerateCode(enr.Secret(), he.clk.Now())
	old, err := he.a.ConfirmTOTP(ctx, u.ID, code, "", audit.Origin{})
	if err != nil || len(old) != auth.RecoveryCodeCount {
		t.Fatalf("confirm: %v %d", err, len(old))
	}
	stored, _ := he.users.Get(ctx, u.ID)
	tok := he.login(stored, true)
	csrf := csrfOf(t, he.env, tok)
	// An authentication older than ReauthAfter must be repeated first.
	he.clk.Advance(auth.DefaultReauthAfter - time.Minute)
	he.call("POST", "/auth/session/keepalive", "", tok, csrf)
	he.clk.Advance(2 * time.Minute)
	if rr := he.call("POST", "/auth/mfa/recovery-codes", "{}", tok, csrf); rr.Code != 401 || !strings.Contains(rr.Body.String(), "reauthentication_required") {
		t.Fatalf("stale authentication: %d %s", rr.Code, rr.Body.String())
	}
	code, _ = pqtotp.GenerateCode(enr.Secret(), he.clk.Now())
	rr := he.call("POST", "/auth/reauth", `{"password":"`+testPassword+`","totp_code":"`+code+`"}`, tok, csrf)
	if rr.Code != 200 {
		t.Fatalf("reauth: %d %s", rr.Code, rr.Body.String())
	}
	tok, csrf = sessionCookie(rr).Value, jsonBody(t, rr)["csrf_token"].(string)
	rr = he.call("POST", "/auth/mfa/recovery-codes", "{}", tok, csrf)
	m := jsonBody(t, rr)
	codes, _ := m["recovery_codes"].([]any)
	if rr.Code != 200 || len(codes) != auth.RecoveryCodeCount {
		t.Fatalf("regenerate: %d %v", rr.Code, m)
	}
	if len(he.rec.find(audit.ActionMFAEnrolled, "recovery_codes_regenerated")) != 1 {
		t.Fatal("regeneration not audited")
	}
	login := func(rc string) error {
		_, err := he.a.Login(ctx, auth.LoginRequest{TenantID: "clinic-a", Name: "doc", Password: testPassword, RecoveryCode: rc, ClientKey: "198.51.100.7"})
		return err
	}
	if err := login(old[0]); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("an old recovery code after regeneration: %v", err)
	}
	if err := login(codes[0].(string)); err != nil {
		t.Fatalf("a new recovery code: %v", err)
	}
}

func TestHandlersAdminSeparationOfDuties(t *testing.T) {
	he := newHandlerEnv(t)
	pol, err := policy.NewTenants(policy.Tenant{ApprovePHIGrants: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.NewAuthenticator(auth.Config{Users: he.users, Audit: he.rec, Clock: he.clk,
		Tenants: pol, PHIRoles: []string{"physician"}}, he.sm)
	if err != nil {
		t.Fatal(err)
	}
	g := auth.NewGuard(he.sm, loadPolicy(t, "policy_v1.json").RBAC)
	he.h = auth.NewHandlers(he.sm, a, g)
	g.HandleFunc("PUT /x/users/{id}/roles", "user:manage", he.h.SetRoles)
	g.HandleFunc("POST /x/users/{id}/roles/approve", "user:manage", he.h.ApproveRoles)
	g.HandleFunc("POST /x/users/{id}/roles/reject", "user:manage", he.h.RejectRoles)
	g.HandleFunc("GET /x/role-requests", "user:manage", he.h.RoleRequests)
	he.mux.Handle("/x/", he.sm.Middleware(g))
	po1, po2 := he.addUser("po1", "privacy_officer"), he.addUser("po2", "privacy_officer")
	lab := he.addUser("lab", "lab_assistant")
	t1, t2 := he.login(po1, true), he.login(po2, true)
	c1, c2 := csrfOf(t, he.env, t1), csrfOf(t, he.env, t2)
	rr := he.call("PUT", "/x/users/"+po1.ID+"/roles", `{"roles":["physician","privacy_officer"]}`, t1, c1)
	if rr.Code != 403 || !strings.Contains(rr.Body.String(), "self_administration") {
		t.Fatalf("own roles: %d %s", rr.Code, rr.Body.String())
	}
	rr = he.call("PUT", "/x/users/"+lab.ID+"/roles", `{"roles":["physician"]}`, t1, c1)
	if rr.Code != 202 || !strings.Contains(rr.Body.String(), "pending") {
		t.Fatalf("PHI grant: %d %s", rr.Code, rr.Body.String())
	}
	rr = he.call("GET", "/x/role-requests", "", t2, "")
	if rr.Code != 200 || !strings.Contains(rr.Body.String(), po1.ID) {
		t.Fatalf("role requests: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("POST", "/x/users/"+lab.ID+"/roles/approve", "{}", t1, c1); rr.Code != 403 || !strings.Contains(rr.Body.String(), "second_administrator_required") {
		t.Fatalf("approval by the requester: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("POST", "/x/users/"+lab.ID+"/roles/approve", "{}", t2, c2); rr.Code != 204 {
		t.Fatalf("approval: %d %s", rr.Code, rr.Body.String())
	}
	got, _ := he.users.Get(context.Background(), lab.ID)
	if len(got.Roles) != 1 || got.Roles[0] != "physician" || got.RoleRequest != nil {
		t.Fatalf("after approval: %v %+v", got.Roles, got.RoleRequest)
	}

	// A second request is rejected by the other administrator: the roles
	// stay, the request is gone, and the rejection is audited.
	nurse := he.addUser("nurse", "lab_assistant")
	if rr := he.call("PUT", "/x/users/"+nurse.ID+"/roles", `{"roles":["physician"]}`, t1, c1); rr.Code != 202 {
		t.Fatalf("second PHI grant: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("POST", "/x/users/"+nurse.ID+"/roles/reject", "{}", t2, c2); rr.Code != 204 {
		t.Fatalf("rejection: %d %s", rr.Code, rr.Body.String())
	}
	got, _ = he.users.Get(context.Background(), nurse.ID)
	if len(got.Roles) != 1 || got.Roles[0] != "lab_assistant" || got.RoleRequest != nil {
		t.Fatalf("after rejection: %v %+v", got.Roles, got.RoleRequest)
	}
	if ev := he.rec.find(audit.ActionRoleChanged, "rejected"); len(ev) != 1 || ev[0].Actor.UserID != po2.ID {
		t.Fatalf("rejection events: %+v", ev)
	}
	if rr := he.call("POST", "/x/users/"+nurse.ID+"/roles/reject", "{}", t2, c2); rr.Code != 404 || !strings.Contains(rr.Body.String(), "no_role_request") {
		t.Fatalf("rejection without a request: %d %s", rr.Code, rr.Body.String())
	}
}
