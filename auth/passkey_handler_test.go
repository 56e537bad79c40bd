package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// TestPasskeyEndpoints drives the passkey endpoints of Service.Mount:
// register after a password login, list, passwordless login with the
// passkey, refusal of a replayed assertion, last-passkey rule, removal.
func TestPasskeyEndpoints(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic-a", PasskeyRoles: []string{"physician"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newSvcEnv(t, withPasskeys, func(c *auth.Config) { c.Tenants = tenants })
	mux := http.NewServeMux()
	e.svc.Mount(mux, "/auth")
	call := func(method, path, body, cookie, csrf string) *httptest.ResponseRecorder {
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
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, r)
		return rr
	}
	decode := func(rr *httptest.ResponseRecorder, v any) {
		t.Helper()
		if err := json.Unmarshal(rr.Body.Bytes(), v); err != nil {
			t.Fatalf("%d %q", rr.Code, rr.Body)
		}
	}
	cookieOf := func(rr *httptest.ResponseRecorder) string {
		for _, c := range rr.Result().Cookies() {
			if c.Name == auth.DefaultCookieName {
				return c.Value
			}
		}
		t.Fatalf("no session cookie (%d %s)", rr.Code, rr.Body)
		return ""
	}
	u, err := e.svc.CreateUser(t.Context(), auth.NewUser{TenantID: "clinic-a", Name: "doc", Roles: []string{"physician"}, Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	rr := call("POST", "/auth/login", `{"tenant_id":"clinic-a","name":"doc","password":"`+testPassword+`"}`, "", "")
	var login struct {
		Status    string `json:"status"`
		CSRFToken string `json:"csrf_token"`
	}
	decode(rr, &login)
	tok := cookieOf(rr)

	a := newSoftAuthenticator(t, testRPID, testOrigin)
	rr = call("POST", "/auth/passkeys/register/begin", `{}`, tok, login.CSRFToken)
	var begin struct {
		Options json.RawMessage `json:"options"`
	}
	decode(rr, &begin)
	body, _ := json.Marshal(map[string]any{"name": "laptop", "credential": json.RawMessage(a.Register(begin.Options))})
	if rr = call("POST", "/auth/passkeys/register/finish", string(body), tok, login.CSRFToken); rr.Code != 200 {
		t.Fatalf("register finish: %d %s", rr.Code, rr.Body)
	}
	var list struct {
		Passkeys []struct {
			Fingerprint string `json:"fingerprint"`
			Name        string `json:"name"`
		} `json:"passkeys"`
	}
	decode(call("GET", "/auth/passkeys", "", tok, ""), &list)
	if len(list.Passkeys) != 1 || list.Passkeys[0].Name != "laptop" {
		t.Fatalf("list: %+v", list)
	}

	decode(call("POST", "/auth/login/passkey/begin", `{}`, "", ""), &begin)
	cred := a.Assert(begin.Options)
	body, _ = json.Marshal(map[string]any{"credential": json.RawMessage(cred)})
	rr = call("POST", "/auth/login/passkey/finish", string(body), "", "")
	if rr.Code != 200 {
		t.Fatalf("passkey login: %d %s", rr.Code, rr.Body)
	}
	decode(rr, &login)
	ptok := cookieOf(rr)
	if rr = call("POST", "/auth/login/passkey/finish", string(body), "", ""); rr.Code != 401 || !strings.Contains(rr.Body.String(), "invalid_credentials") {
		t.Fatalf("replayed assertion: %d %s", rr.Code, rr.Body)
	}
	rm, _ := json.Marshal(map[string]string{"fingerprint": list.Passkeys[0].Fingerprint})
	if rr = call("POST", "/auth/passkeys/remove", string(rm), ptok, login.CSRFToken); rr.Code != 409 || !strings.Contains(rr.Body.String(), "last_passkey") {
		t.Fatalf("removing the last passkey of a physician: %d %s", rr.Code, rr.Body)
	}
	if login.Status != "authenticated" || len(e.rec.find(audit.ActionLogin, "passkey")) != 1 {
		t.Fatalf("passkey login: %+v", login)
	}
	if got, _ := e.svc.ListPasskeys(t.Context(), u.ID); len(got) != 1 || got[0].SignCount != 1 {
		t.Fatalf("after login: %+v", got)
	}
}
