package auth_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

const testPassword = "violet-harbor-lantern-42"

// handlerEnv mounts the handlers and a guarded app on one mux.
type handlerEnv struct {
	*env
	a   *auth.Authenticator
	mux *http.ServeMux
	h   *auth.Handlers
}

func newHandlerEnv(t *testing.T, mod ...func(*auth.Config)) *handlerEnv {
	t.Helper()
	e, g, app := guardEnv(t)
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := auth.NewKeySealer(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.Config{Users: e.users, Audit: e.rec, Sealer: sealer, Argon2: fastArgon2, Clock: e.clk}
	for _, m := range mod {
		m(&cfg)
	}
	a, err := auth.NewAuthenticator(cfg, e.sm)
	if err != nil {
		t.Fatal(err)
	}
	he := &handlerEnv{env: e, a: a, mux: http.NewServeMux(), h: auth.NewHandlers(e.sm, a, g)}
	he.h.Mount(he.mux, "/auth")
	g.HandleFunc("GET /emergency/report", "emergency:review", he.h.EmergencyReport)
	g.HandleFunc("PUT /admin/users/{id}/roles", "user:manage", he.h.SetRoles)
	g.HandleFunc("PUT /admin/users/{id}/status", "user:manage", he.h.SetStatus)
	g.HandleFunc("POST /admin/users/{id}/unlock", "user:manage", he.h.Unlock)
	g.HandleFunc("POST /admin/users/{id}/reset-mfa", "user:manage", he.h.ResetMFA)
	g.HandleFunc("PUT /admin/users/{id}/password", "user:manage", he.h.SetPassword)
	g.HandleFunc("POST /admin/users/{id}/roles/approve", "user:manage", he.h.ApproveRoles)
	g.HandleFunc("GET /admin/role-requests", "user:manage", he.h.RoleRequests)
	he.mux.Handle("/", app)
	return he
}

func (he *handlerEnv) createUser(t *testing.T, name string, roles ...string) *auth.User {
	t.Helper()
	u, err := he.a.CreateUser(t.Context(), auth.NewUser{TenantID: "clinic-a", Name: name, Roles: roles, Password: testPassword},
		audit.Actor{UserID: "admin"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// call sends a JSON request; cookie and csrf may be empty.
func (he *handlerEnv) call(method, path, body, cookie, csrf string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.10:4711"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: cookie})
	}
	if csrf != "" {
		r.Header.Set("X-CSRF-Token", csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rr := httptest.NewRecorder()
	he.mux.ServeHTTP(rr, r)
	return rr
}

func jsonBody(t *testing.T, rr *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rr.Body.Bytes(), &m); err != nil {
		t.Fatalf("response is not JSON (%d): %q", rr.Code, rr.Body.String())
	}
	return m
}

func loginJSON(name, pw string) string {
	b, _ := json.Marshal(map[string]string{"tenant_id": "clinic-a", "name": name, "password": pw})
	return string(b)
}

// signIn logs in with the password only and returns the cookie and CSRF token.
func (he *handlerEnv) signIn(t *testing.T, name string) (string, string) {
	t.Helper()
	rr := he.call("POST", "/auth/login", loginJSON(name, testPassword), "", "")
	m := jsonBody(t, rr)
	c := sessionCookie(rr)
	if rr.Code != 200 || m["status"] != "authenticated" || c == nil {
		t.Fatalf("login: %d %v", rr.Code, m)
	}
	return c.Value, m["csrf_token"].(string)
}

func TestHandlersPasswordLoginKeepAliveLogout(t *testing.T) {
	he := newHandlerEnv(t)
	u := he.createUser(t, "doc", "physician")
	tok, csrf := he.signIn(t, "doc")
	if rr := he.call("GET", "/patients/1", "", tok, ""); rr.Code != 200 {
		t.Fatalf("app after login: %d", rr.Code)
	}
	rr := he.call("GET", "/auth/session", "", tok, "")
	m := jsonBody(t, rr)
	if rr.Code != 200 || m["user_id"] != u.ID || m["csrf_token"] != csrf || m["mfa"] != false {
		t.Fatalf("session: %d %v", rr.Code, m)
	}
	he.clk.Advance(14 * time.Minute)
	if rr := he.call("POST", "/auth/session/keepalive", "", tok, csrf); rr.Code != 200 {
		t.Fatalf("keepalive: %d", rr.Code)
	}
	he.clk.Advance(14 * time.Minute)
	if rr := he.call("POST", "/auth/session/keepalive", "", tok, ""); rr.Code != 403 {
		t.Fatalf("keepalive without CSRF token: %d", rr.Code)
	}
	if rr := he.call("POST", "/auth/logout", "", tok, ""); rr.Code != 204 {
		t.Fatalf("logout: %d", rr.Code)
	}
	if rr := he.call("GET", "/auth/session", "", tok, ""); rr.Code != 401 {
		t.Fatalf("session after logout: %d", rr.Code)
	}
	if len(he.rec.find(audit.ActionLogin, "")) != 1 || len(he.rec.find(audit.ActionLogout, "logout")) != 1 {
		t.Fatal("login and logout must be audited")
	}
}

func TestHandlersLoginFailuresLookAlike(t *testing.T) {
	he := newHandlerEnv(t)
	he.createUser(t, "doc", "physician")
	wrong := he.call("POST", "/auth/login", loginJSON("doc", "not-the-password-at-all"), "", "")
	unknown := he.call("POST", "/auth/login", loginJSON("nobody", testPassword), "", "")
	for _, rr := range []*httptest.ResponseRecorder{wrong, unknown} {
		if rr.Code != 401 || strings.TrimSpace(rr.Body.String()) != `{"error":"invalid_credentials"}` || sessionCookie(rr) != nil {
			t.Fatalf("failed login: %d %q", rr.Code, rr.Body.String())
		}
	}
	if len(he.rec.find(audit.ActionLoginFailed, "")) != 2 {
		t.Fatal("failed logins not audited")
	}
}

func TestHandlersBadInput(t *testing.T) {
	he := newHandlerEnv(t)
	he.createUser(t, "doc", "physician")
	tok, csrf := he.signIn(t, "doc")
	big := `{"tenant_id":"clinic-a","name":"doc","password":"` + strings.Repeat("x", 20000) + `"}`
	for name, c := range map[string]struct {
		path, body, ctype string
		want              int
	}{
		"not json":       {"/auth/login", "tenant=a", "application/json", 400},
		"wrong type":     {"/auth/login", loginJSON("doc", testPassword), "text/plain", 400},
		"unknown field":  {"/auth/login", `{"name":"doc","password":"x","admin":true}`, "application/json", 400},
		"trailing":       {"/auth/login", loginJSON("doc", testPassword) + "{}", "application/json", 400},
		"oversized":      {"/auth/login", big, "application/json", 400},
		"array":          {"/auth/login", `[1,2]`, "application/json", 400},
		"bad challenge":  {"/auth/login/second-factor", `{"challenge":"mc1.AAAA.BBBB","totp_code":"123456"}`, "application/json", 401},
		"bad code":       {"/auth/mfa/totp/confirm", `{"code":"abc"}`, "application/json", 409},
		"bad duration":   {"/auth/emergency/elevate", `{"role":"er_override","reason":"x","duration_seconds":-5}`, "application/json", 400},
		"unknown role":   {"/auth/emergency/elevate", `{"role":"superuser","reason":"need it"}`, "application/json", 403},
		"missing reason": {"/auth/emergency/elevate", `{"role":"er_override"}`, "application/json", 403},
	} {
		r := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		r.Header.Set("Content-Type", c.ctype)
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
		r.Header.Set("X-CSRF-Token", csrf)
		rr := httptest.NewRecorder()
		he.mux.ServeHTTP(rr, r)
		if rr.Code != c.want {
			t.Errorf("%s: %d %q, want %d", name, rr.Code, rr.Body.String(), c.want)
		}
		if strings.Contains(rr.Body.String(), "xxxx") {
			t.Errorf("%s: body echoes input", name)
		}
	}
	if rr := he.call("GET", "/emergency/report?from=yesterday", "", tok, ""); rr.Code != 403 {
		t.Fatalf("report without permission: %d", rr.Code)
	}
}

func TestHandlersLoginRefusesCrossSite(t *testing.T) {
	he := newHandlerEnv(t)
	he.createUser(t, "doc", "physician")
	rr := he.call("POST", "/auth/login", loginJSON("doc", testPassword), "", "", "Sec-Fetch-Site", "cross-site")
	if rr.Code != 403 || sessionCookie(rr) != nil {
		t.Fatalf("cross-site login: %d", rr.Code)
	}
}

func TestHandlersTOTPEnrolmentAndSecondFactor(t *testing.T) {
	he := newHandlerEnv(t)
	he.sm.Policies = loadPolicy(t, "policy_v1.json").Tenants // clinic-a requires MFA
	he.createUser(t, "doc", "physician")
	rr := he.call("POST", "/auth/login", loginJSON("doc", testPassword), "", "")
	m := jsonBody(t, rr)
	if rr.Code != 200 || m["mfa"] != false {
		t.Fatalf("password login: %d %v", rr.Code, m)
	}
	tok, csrf := sessionCookie(rr).Value, m["csrf_token"].(string)
	if rr := he.call("GET", "/patients/1", "", tok, ""); rr.Code != 403 || !strings.Contains(rr.Body.String(), "mfa_required") {
		t.Fatalf("app without MFA in an MFA tenant: %d", rr.Code)
	}
	rr = he.call("POST", "/auth/mfa/totp/enroll", "", tok, csrf)
	m = jsonBody(t, rr)
	secret, _ := m["secret"].(string)
	if rr.Code != 200 || secret == "" || !strings.HasPrefix(m["otpauth_uri"].(string), "otpauth://totp/") || m["qr_png"] == "" {
		t.Fatalf("enroll: %d %v", rr.Code, rr.Body.String())
	}
	code, _ := pqtotp.GenerateCode(secret, he.clk.Now())
	rr = he.call("POST", "/auth/mfa/totp/confirm", `{"code":"`+code+`"}`, tok, csrf)
	m = jsonBody(t, rr)
	if rr.Code != 200 || len(m["recovery_codes"].([]any)) != 10 || sessionCookie(rr) == nil {
		t.Fatalf("confirm: %d %v", rr.Code, m)
	}
	mfaTok := sessionCookie(rr).Value
	if he.call("GET", "/patients/1", "", tok, "").Code != 401 {
		t.Fatal("pre-MFA token still valid after the session was upgraded")
	}
	if rr := he.call("GET", "/patients/1", "", mfaTok, ""); rr.Code != 200 {
		t.Fatalf("app after MFA enrolment: %d", rr.Code)
	}
	if len(he.rec.find(audit.ActionMFAEnrolled, "")) != 1 {
		t.Fatal("MFA enrolment not audited")
	}
	// A new login needs the second factor.
	he.clk.Advance(time.Minute)
	rr = he.call("POST", "/auth/login", loginJSON("doc", testPassword), "", "")
	m = jsonBody(t, rr)
	if rr.Code != 200 || m["status"] != "second_factor_required" || sessionCookie(rr) != nil {
		t.Fatalf("login of a TOTP user: %d %v", rr.Code, m)
	}
	code, _ = pqtotp.GenerateCode(secret, he.clk.Now())
	challenge := m["challenge"].(string)
	body, _ := json.Marshal(map[string]string{"challenge": challenge, "totp_code": code})
	rr = he.call("POST", "/auth/login/second-factor", string(body), "", "")
	m = jsonBody(t, rr)
	if rr.Code != 200 || m["status"] != "authenticated" || m["mfa"] != true || sessionCookie(rr) == nil {
		t.Fatalf("second factor: %d %v", rr.Code, m)
	}
	// The same code again is refused (each code once).
	rr = he.call("POST", "/auth/login/second-factor", string(body), "", "")
	if rr.Code != 401 {
		t.Fatalf("replayed code: %d", rr.Code)
	}
	// Canaries: no password, TOTP secret, code or token in the audit trail.
	for _, ev := range he.rec.all() {
		b, _ := json.Marshal(ev)
		for _, secret := range []string{testPassword, secret, code, tok, mfaTok, challenge} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("a credential leaked into audit event %s", b)
			}
		}
	}
}

func TestHandlersReauthAndPasswordChange(t *testing.T) {
	he := newHandlerEnv(t)
	he.createUser(t, "doc", "physician")
	tok, csrf := he.signIn(t, "doc")
	other, _ := he.signIn(t, "doc")
	for range 2 {
		he.clk.Advance(10 * time.Minute)
		he.call("GET", "/auth/session", "", tok, "")
	}
	if rr := he.call("PUT", "/patients/1", "", tok, csrf); rr.Code != 401 {
		t.Fatalf("sensitive route with stale authentication: %d", rr.Code)
	}
	if rr := he.call("POST", "/auth/reauth", `{"password":"wrong-password-here"}`, tok, csrf); rr.Code != 401 {
		t.Fatalf("reauth with a wrong password: %d", rr.Code)
	}
	rr := he.call("POST", "/auth/reauth", `{"password":"`+testPassword+`"}`, tok, csrf)
	if rr.Code != 200 || sessionCookie(rr) == nil {
		t.Fatalf("reauth: %d %s", rr.Code, rr.Body.String())
	}
	tok, csrf = sessionCookie(rr).Value, jsonBody(t, rr)["csrf_token"].(string)
	if rr := he.call("PUT", "/patients/1", "", tok, csrf); rr.Code != 200 {
		t.Fatalf("sensitive route after reauth: %d", rr.Code)
	}
	rr = he.call("POST", "/auth/password", `{"current_password":"`+testPassword+`","new_password":"password"}`, tok, csrf)
	if rr.Code != 400 || jsonBody(t, rr)["error"] != "password_rejected" {
		t.Fatalf("weak new password: %d %s", rr.Code, rr.Body.String())
	}
	rr = he.call("POST", "/auth/password", `{"current_password":"`+testPassword+`","new_password":"quartz-meadow-bicycle-77"}`, tok, csrf)
	if rr.Code != 200 || sessionCookie(rr) == nil {
		t.Fatalf("password change: %d %s", rr.Code, rr.Body.String())
	}
	if he.call("GET", "/auth/session", "", other, "").Code != 401 {
		t.Fatal("a password change must end the user's other sessions")
	}
	if he.call("GET", "/auth/session", "", sessionCookie(rr).Value, "").Code != 200 {
		t.Fatal("the session that changed the password must survive (rotated)")
	}
}

func TestHandlersBreakGlassAndReport(t *testing.T) {
	he := newHandlerEnv(t)
	he.createUser(t, "doc", "physician")
	he.createUser(t, "officer", "privacy_officer")
	tok, csrf := he.signIn(t, "doc")
	rr := he.call("POST", "/auth/emergency/elevate", `{"role":"er_override","reason":"unconscious patient in the trauma bay","duration_seconds":600}`, tok, csrf)
	m := jsonBody(t, rr)
	if rr.Code != 200 || m["role"] != "er_override" || sessionCookie(rr) == nil {
		t.Fatalf("elevate: %d %v", rr.Code, m)
	}
	etok, ecsrf := sessionCookie(rr).Value, m["csrf_token"].(string)
	if rr := he.call("PUT", "/labs/1", "", etok, ecsrf); rr.Code != 200 {
		t.Fatalf("emergency permission: %d", rr.Code)
	}
	if rr := he.call("POST", "/auth/emergency/end", "", etok, ecsrf); rr.Code != 204 {
		t.Fatalf("end: %d", rr.Code)
	}
	if rr := he.call("PUT", "/labs/1", "", etok, ecsrf); rr.Code != 403 {
		t.Fatalf("after end: %d", rr.Code)
	}
	otok, _ := he.signIn(t, "officer")
	rr = he.call("GET", "/emergency/report", "", otok, "")
	m = jsonBody(t, rr)
	acc, _ := m["accesses"].([]any)
	if rr.Code != 200 || len(acc) != 1 || acc[0].(map[string]any)["end_reason"] != "ended" {
		t.Fatalf("report: %d %v", rr.Code, m)
	}
	if rr := he.call("GET", "/emergency/report?from=2020-01-01T00:00:00Z&to=2019-01-01T00:00:00Z", "", otok, ""); rr.Code != 400 {
		t.Fatalf("inverted range: %d", rr.Code)
	}
}

func TestHandlersAdminRolesAndStatus(t *testing.T) {
	he := newHandlerEnv(t)
	lab := he.createUser(t, "lab", "lab_assistant")
	he.createUser(t, "officer", "privacy_officer")
	he.createUser(t, "doc", "physician")
	foreign, err := he.a.CreateUser(t.Context(), auth.NewUser{TenantID: "clinic-b", Name: "lab", Roles: []string{"lab_assistant"},
		Password: testPassword}, audit.Actor{UserID: "admin"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	ltok, _ := he.signIn(t, "lab")
	otok, ocsrf := he.signIn(t, "officer")
	dtok, dcsrf := he.signIn(t, "doc")
	if he.call("GET", "/patients/1", "", ltok, "").Code != 403 {
		t.Fatal("precondition")
	}
	for name, c := range map[string]struct {
		path, body, tok, csrf string
		want                  int
	}{
		"unknown role":     {"/admin/users/" + lab.ID + "/roles", `{"roles":["surgeon"]}`, otok, ocsrf, 400},
		"emergency role":   {"/admin/users/" + lab.ID + "/roles", `{"roles":["er_override"]}`, otok, ocsrf, 400},
		"malformed role":   {"/admin/users/" + lab.ID + "/roles", `{"roles":["a b"]}`, otok, ocsrf, 400},
		"other tenant":     {"/admin/users/" + foreign.ID + "/roles", `{"roles":["physician"]}`, otok, ocsrf, 404},
		"no such user":     {"/admin/users/nobody/roles", `{"roles":["physician"]}`, otok, ocsrf, 404},
		"not an admin":     {"/admin/users/" + lab.ID + "/roles", `{"roles":["physician"]}`, dtok, dcsrf, 403},
		"bad status":       {"/admin/users/" + lab.ID + "/status", `{"status":"banished"}`, otok, ocsrf, 400},
		"roles wrong type": {"/admin/users/" + lab.ID + "/roles", `{"roles":"physician"}`, otok, ocsrf, 400},
	} {
		if rr := he.call("PUT", c.path, c.body, c.tok, c.csrf); rr.Code != c.want {
			t.Errorf("%s: %d %s, want %d", name, rr.Code, rr.Body.String(), c.want)
		}
	}
	if he.call("GET", "/patients/1", "", ltok, "").Code != 403 {
		t.Fatal("a refused role change changed something")
	}
	if rr := he.call("PUT", "/admin/users/"+lab.ID+"/roles", `{"roles":["physician"]}`, otok, ocsrf); rr.Code != 204 {
		t.Fatalf("set roles: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("GET", "/patients/1", "", ltok, ""); rr.Code != 200 {
		t.Fatalf("new role not applied at the next request: %d", rr.Code)
	}
	ev := he.rec.find(audit.ActionRoleChanged, "")
	if len(ev) != 1 || ev[0].Target.RecordID != lab.ID || ev[0].Actor.Role != "privacy_officer" {
		t.Fatalf("role change audit: %+v", ev)
	}
	if rr := he.call("PUT", "/admin/users/"+lab.ID+"/status", `{"status":"disabled"}`, otok, ocsrf); rr.Code != 204 {
		t.Fatalf("disable: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("GET", "/auth/session", "", ltok, ""); rr.Code != 401 {
		t.Fatalf("disabled user's session still works: %d", rr.Code)
	}
	// Removal is final: bringing the user back is a client error (400), not
	// a server failure.
	if rr := he.call("PUT", "/admin/users/"+lab.ID+"/status", `{"status":"removed"}`, otok, ocsrf); rr.Code != 204 {
		t.Fatalf("remove: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("PUT", "/admin/users/"+lab.ID+"/status", `{"status":"active"}`, otok, ocsrf); rr.Code != 400 ||
		!strings.Contains(rr.Body.String(), "invalid_user") {
		t.Fatalf("restore a removed user: %d %s, want 400 invalid_user", rr.Code, rr.Body.String())
	}
}

// An administrator unlocks a locked account, sets a password (ending the
// user's sessions) and is refused an MFA reset the tenant does not allow.
func TestHandlersAdminUnlockPasswordMFA(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{PermanentLockout: true})
	if err != nil {
		t.Fatal(err)
	}
	he := newHandlerEnv(t, func(c *auth.Config) { c.Tenants = tenants })
	lab := he.createUser(t, "lab", "lab_assistant")
	he.createUser(t, "officer", "privacy_officer")

	// Lock the account with consecutive failures, waiting out each back-off.
	for range 20 {
		he.clk.Advance(time.Hour)
		he.call("POST", "/auth/login", loginJSON("lab", "wrong password, clearly"), "", "")
	}
	he.clk.Advance(time.Hour)
	if rr := he.call("POST", "/auth/login", loginJSON("lab", testPassword), "", ""); rr.Code == 200 {
		t.Fatal("the right password works on a locked account")
	}
	otok, ocsrf := he.signIn(t, "officer")
	if rr := he.call("POST", "/admin/users/"+lab.ID+"/unlock", `{}`, otok, ocsrf); rr.Code != 204 {
		t.Fatalf("unlock: %d %s", rr.Code, rr.Body.String())
	}
	ltok, _ := he.signIn(t, "lab")

	const next = "a brand new passphrase for the lab bench"
	if rr := he.call("PUT", "/admin/users/"+lab.ID+"/password", `{"password":"short"}`, otok, ocsrf); rr.Code != 400 ||
		!strings.Contains(rr.Body.String(), "password_rejected") {
		t.Fatalf("weak password: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("PUT", "/admin/users/"+lab.ID+"/password", `{"password":"`+next+`"}`, otok, ocsrf); rr.Code != 204 {
		t.Fatalf("set password: %d %s", rr.Code, rr.Body.String())
	}
	if rr := he.call("GET", "/auth/session", "", ltok, ""); rr.Code != 401 {
		t.Fatalf("the user's session survived an administrator's password change: %d", rr.Code)
	}
	if rr := he.call("POST", "/auth/login", loginJSON("lab", next), "", ""); rr.Code != 200 {
		t.Fatalf("login with the new password: %d %s", rr.Code, rr.Body.String())
	}
	if strings.Contains(fmt.Sprintf("%+v", he.rec.all()), next) {
		t.Fatal("the new password reached the audit trail")
	}

	// The default tenant policy allows recovery codes only, not admin resets.
	if rr := he.call("POST", "/admin/users/"+lab.ID+"/reset-mfa", `{}`, otok, ocsrf); rr.Code != 403 ||
		!strings.Contains(rr.Body.String(), "recovery_not_allowed") {
		t.Fatalf("reset MFA against policy: %d %s", rr.Code, rr.Body.String())
	}
}
