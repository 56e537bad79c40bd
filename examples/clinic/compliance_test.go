package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/compliance"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// TestComplianceSuite runs hipaakit's compliance suite against the clinic's
// real handler, as a service built on hipaakit would in its own CI, on the
// embedded stores and on PostgreSQL.
func TestComplianceSuite(t *testing.T) { onEveryStore(t, testComplianceSuite) }

func testComplianceSuite(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	cs := &complianceUsers{tc: tc, creds: map[string]compliance.Credentials{}, secrets: map[string]string{}}
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-7001", "Compliance Patient")
	p := "/api/patients/" + id
	// The suite's routes are the Guard's own list: a route added to
	// server.go without test data here fails the suite (compliance.Run
	// cross-checks Served against Routes).
	rbac, err := clinicRBAC()
	if err != nil {
		t.Fatal(err)
	}
	const (
		creates = "creates records that the repeated sends would duplicate; exercised by the API tests"
		admin   = "changes another user's account; exercised by the administration tests"
		slow    = "restores or verifies a whole backup; exercised by TestServiceConfigReport"
		breach  = "writes an incident; exercised by the breach tests"
	)
	phiOf := func(path, body string) compliance.RouteData {
		return compliance.RouteData{Path: path, Body: body, Subject: id, PHI: true}
	}
	routes, err := compliance.RoutesFrom(tc.app.d.Routes(), rbac, demoRoles, map[string]compliance.RouteData{
		"POST /api/patients":                           {Body: `{"mrn":"MRN-7002","name":"X"}`, DenyOnly: creates},
		"POST /api/patients/search":                    {Body: `{"mrn":"MRN-7001"}`, Subject: id, PHI: true},
		"GET /api/patients/{id}":                       phiOf(p, ""),
		"PUT /api/patients/{id}":                       phiOf(p, `{"zip":"02139"}`),
		"POST /api/patients/{id}/notes":                phiOf(p+"/notes", `{"value":"follow up in 3 months"}`),
		"POST /api/patients/{id}/labs":                 phiOf(p+"/labs", `{"value":"LDL 96 mg/dL"}`),
		"POST /api/patients/{id}/vitals":               phiOf(p+"/vitals", `{"value":"HR 72"}`),
		"POST /api/patients/{id}/shred":                {Path: p + "/shred", Body: `{"reason":"x"}`, DenyOnly: "crypto-shreds the patient every other route reads"},
		"POST /api/patients/{id}/hold":                 {Path: p + "/hold", Body: `{"reason":"x"}`, DenyOnly: creates},
		"DELETE /api/holds/{hold}":                     {Path: "/api/holds/h-1", DenyOnly: "lifts a legal hold; exercised by the hold tests"},
		"GET /api/patients/{id}/history":               {Path: p + "/history"},
		"POST /api/patients/{id}/history/reveal":       phiOf(p+"/history/reveal", `{"field":"zip"}`),
		"GET /api/patients/{id}/disclosures":           {Path: p + "/disclosures"},
		"POST /api/patients/{id}/disclosures":          phiOf(p+"/disclosures", `{"recipient":{"kind":"organization","name":"County Health Dept"},"purpose":"public_health"}`),
		"POST /api/export/deidentified":                {Body: `{"ids":["` + id + `"]}`},
		"POST /api/backups/{backup}/verify":            {Path: "/api/backups/b-1/verify", DenyOnly: slow},
		"POST /api/backups/drill":                      {DenyOnly: slow},
		"PUT /api/admin/users/{id}/roles":              {Path: "/api/admin/users/u-1/roles", Body: `{}`, DenyOnly: admin},
		"PUT /api/admin/users/{id}/status":             {Path: "/api/admin/users/u-1/status", Body: `{}`, DenyOnly: admin},
		"POST /api/admin/users/{id}/unlock":            {Path: "/api/admin/users/u-1/unlock", DenyOnly: admin},
		"PUT /api/admin/users/{id}/password":           {Path: "/api/admin/users/u-1/password", Body: `{}`, DenyOnly: admin},
		"POST /api/admin/users/{id}/reset-mfa":         {Path: "/api/admin/users/u-1/reset-mfa", DenyOnly: admin},
		"POST /api/admin/users/{id}/roles/approve":     {Path: "/api/admin/users/u-1/roles/approve", DenyOnly: admin},
		"POST /api/admin/users/{id}/roles/reject":      {Path: "/api/admin/users/u-1/roles/reject", DenyOnly: admin},
		"POST /api/breach/incidents":                   {Body: `{}`, DenyOnly: breach},
		"GET /api/breach/incidents/{id}":               {Path: "/api/breach/incidents/i-1", DenyOnly: "needs an incident; exercised by the breach tests"},
		"POST /api/breach/incidents/{id}/scope":        {Path: "/api/breach/incidents/i-1/scope", Body: `{}`, DenyOnly: breach},
		"POST /api/breach/incidents/{id}/assessment":   {Path: "/api/breach/incidents/i-1/assessment", Body: `{}`, DenyOnly: breach},
		"POST /api/breach/incidents/{id}/mailing-list": {Path: "/api/breach/incidents/i-1/mailing-list", Body: `{}`, DenyOnly: breach},
		"GET /patients/{id}":                           {Path: "/patients/" + id, Subject: id, PHI: true},
		"GET /patients/{id}/lab":                       {Path: "/patients/" + id + "/lab"},
		"GET /patients/{id}/history":                   {Path: "/patients/" + id + "/history"},
		"GET /audit/patients/{id}/disclosures":         {Path: "/audit/patients/" + id + "/disclosures"},
		"GET /breach/{id}":                             {Path: "/breach/i-1", DenyOnly: "needs an incident; exercised by the breach tests"},
		"GET /audit/export":                            {Path: "/audit/export?format=csv"},
		"POST /api/admin/users":                        {Body: `{}`, DenyOnly: admin},
		"POST /api/admin/certificates/verify":          {Body: `{}`, DenyOnly: "needs a disposal certificate; exercised by the administration tests"},
		"POST /audit":                                  {DenyOnly: "an HTML form; exercised by the browser tests"},
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := tc.app.d.TrustedKeys().Keys()[0]
	compliance.Run(t, compliance.Service{
		Handler:          tc.srv.Config.Handler,
		Routes:           routes,
		Served:           tc.app.d.Routes(),
		Roles:            demoRoles,
		Login:            cs.login,
		LoginPage:        "/login",
		Logout:           compliance.Route{Method: "POST", Path: "/api/auth/logout"},
		Clock:            tc.clock,
		IdleTimeout:      15 * time.Minute,
		AbsoluteTimeout:  12 * time.Hour,
		ChangePassword:   cs.changePassword,
		TOTP:             cs.totp,
		NewCredentials:   func(t testing.TB) compliance.Credentials { _, c := cs.newUser(t, roleNurse); return c },
		TryLogin:         cs.tryLogin,
		LockoutThreshold: 10,
		RequireMFA:       true, // the demo tenant's policy (app.go openAuth)
		PasswordLogin:    cs.passwordOnly,
		Events:           tc.allEvents,
		VerifyAudit: func(ctx context.Context) error {
			_, err := tc.app.d.Audit.Verify(ctx, audit.VerifyOptions{Keys: []ed25519.PublicKey{pub}})
			return err
		},
		Logs: tc.logs.String,
		SeedCanary: func(t testing.TB, s compliance.Session, canary string) []compliance.Route {
			res := serveDirect(tc, "PUT", p, `{"name":"`+canary+`"}`, s)
			if res.Code != http.StatusOK {
				t.Fatalf("seeding the canary: %d %s", res.Code, res.Body)
			}
			return []compliance.Route{{Method: "GET", Path: p, Roles: []string{rolePhysician, roleNurse, roleFrontDesk}}}
		},
		CanaryRole: rolePhysician,
		SeedFields: func(t testing.TB, s compliance.Session) ([]compliance.Route, map[string]string) {
			// Valid values: the de-identified export parses them.
			values := map[string]string{"name": "Fieldcanary Seventhousand", "dob": "1911-11-11", "zip": "02999",
				"phone": "617-555-7001", "email": "fieldcanary7001@example.org", "address": "7001 Canary Lane"}
			body, _ := json.Marshal(values)
			if res := serveDirect(tc, "PUT", p, string(body), s); res.Code != http.StatusOK {
				t.Fatalf("seeding the fields: %d %s", res.Code, res.Body)
			}
			return []compliance.Route{{Method: "GET", Path: p, Pattern: "GET /api/patients/{id}"},
				{Method: "GET", Path: "/patients/" + id, Pattern: "GET /patients/{id}"}}, values
		},
		Emergency:      cs.emergency,
		EmergencyRole:  roleNurse,
		EmergencyRoute: compliance.Route{Method: "GET", Path: p, Pattern: "GET /api/patients/{id}"},
	})
}

// complianceUsers creates the fresh users the suite asks for.
type complianceUsers struct {
	tc      *testClinic
	mu      sync.Mutex
	n       int
	creds   map[string]compliance.Credentials // by user ID
	secrets map[string]string                 // TOTP secret by user name
}

// newUser creates an active user with role and a confirmed TOTP factor.
func (cs *complianceUsers) newUser(t testing.TB, role string) (string, compliance.Credentials) {
	return cs.newUserWith(t, role, true)
}

// newUserWith creates an active user with role, with a confirmed TOTP
// factor when mfa is set (else the user has only a password).
func (cs *complianceUsers) newUserWith(t testing.TB, role string, mfa bool) (string, compliance.Credentials) {
	cs.mu.Lock()
	cs.n++
	name := role + "-c" + strings.Repeat("x", cs.n%3) + time.Duration(cs.n).String()
	cs.mu.Unlock()
	ctx := context.Background()
	pw, err := randomPassword()
	if err != nil {
		t.Fatal(err)
	}
	a := cs.tc.app
	u, err := a.d.Auth.CreateUser(ctx, auth.NewUser{TenantID: demoTenant, Name: name, Roles: []string{role}, Admin: role == roleAdmin, Password: pw}, seedActor, audit.Origin{})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	c := compliance.Credentials{Username: name, Password: pw}
	if !mfa {
		cs.mu.Lock()
		cs.creds[u.ID] = c
		cs.mu.Unlock()
		return u.ID, c
	}
	enr, err := a.d.Auth.EnrollTOTP(ctx, u.ID, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.d.Auth.ConfirmTOTP(ctx, u.ID, cs.code(t, enr.Secret()), "", audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	cs.creds[u.ID], cs.secrets[name] = c, enr.Secret()
	cs.mu.Unlock()
	return u.ID, c
}

// code moves the clock one TOTP step (each code is accepted once) and
// returns the code for secret.
func (cs *complianceUsers) code(t testing.TB, secret string) string {
	cs.tc.clock.Advance(30 * time.Second)
	c, err := totp.GenerateCodeCustom(secret, cs.tc.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serveDirect sends one request straight to the handler with session s.
func serveDirect(tc *testClinic, method, path, body string, s compliance.Session) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, c := range s.Cookies {
		req.AddCookie(c)
	}
	for k, v := range s.Header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	tc.srv.Config.Handler.ServeHTTP(rec, req)
	return rec
}

// passwordLogin signs in with password and TOTP (password only for a user
// without a second factor) and returns the session, or false with the
// status when the service refuses.
func (cs *complianceUsers) passwordLogin(t testing.TB, c compliance.Credentials) (compliance.Session, int) {
	req := map[string]string{"tenant_id": demoTenant, "name": c.Username, "password": c.Password}
	cs.mu.Lock()
	secret, ok := cs.secrets[c.Username]
	cs.mu.Unlock()
	if ok {
		req["totp_code"] = cs.code(t, secret)
	}
	body, _ := json.Marshal(req)
	rec := serveDirect(cs.tc, "POST", "/api/auth/login", string(body), compliance.Session{})
	var out struct {
		Status    string `json:"status"`
		UserID    string `json:"user_id"`
		CSRFToken string `json:"csrf_token"`
	}
	json.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code != http.StatusOK || out.Status != "authenticated" {
		return compliance.Session{}, rec.Code
	}
	return compliance.Session{UserID: out.UserID, Cookies: rec.Result().Cookies(),
		Header: http.Header{"X-Csrf-Token": {out.CSRFToken}}}, rec.Code
}

func (cs *complianceUsers) login(t testing.TB, role string) compliance.Session {
	_, c := cs.newUser(t, role)
	s, status := cs.passwordLogin(t, c)
	if status != http.StatusOK {
		t.Fatalf("login as fresh %s: %d", role, status)
	}
	return s
}

// passwordOnly logs in a fresh user of role that has no second factor yet:
// the demo tenant requires MFA, so its session must reach no route.
func (cs *complianceUsers) passwordOnly(t testing.TB, role string) compliance.Session {
	_, c := cs.newUserWith(t, role, false)
	s, status := cs.passwordLogin(t, c)
	if status != http.StatusOK {
		t.Fatalf("password-only login as fresh %s: %d", role, status)
	}
	return s
}

func (cs *complianceUsers) tryLogin(t testing.TB, c compliance.Credentials) bool {
	_, status := cs.passwordLogin(t, c)
	return status == http.StatusOK
}

func (cs *complianceUsers) changePassword(t testing.TB, s compliance.Session) {
	cs.mu.Lock()
	c := cs.creds[s.UserID]
	cs.mu.Unlock()
	other, status := cs.passwordLogin(t, c)
	if status != http.StatusOK {
		t.Fatalf("second login for the password change: %d", status)
	}
	next, _ := randomPassword()
	body, _ := json.Marshal(map[string]string{"current_password": c.Password, "new_password": next})
	if rec := serveDirect(cs.tc, "POST", "/api/auth/password", string(body), other); rec.Code != http.StatusOK {
		t.Fatalf("password change: %d %s", rec.Code, rec.Body)
	}
}

func (cs *complianceUsers) totp(t testing.TB) (string, func(string) bool) {
	_, c := cs.newUser(t, roleNurse)
	cs.tc.clock.Advance(30 * time.Second) // past the step used to confirm enrolment
	return cs.secrets[c.Username], func(code string) bool {
		body, _ := json.Marshal(map[string]string{"tenant_id": demoTenant, "name": c.Username, "password": c.Password, "totp_code": code})
		rec := serveDirect(cs.tc, "POST", "/api/auth/login", string(body), compliance.Session{})
		return rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `"authenticated"`)
	}
}

func (cs *complianceUsers) emergency(t testing.TB, s compliance.Session, reason string) (compliance.Session, bool) {
	body, _ := json.Marshal(map[string]string{"role": roleEmergency, "reason": reason})
	rec := serveDirect(cs.tc, "POST", "/api/auth/emergency/elevate", string(body), s)
	if rec.Code != http.StatusOK {
		return compliance.Session{}, false
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	json.Unmarshal(rec.Body.Bytes(), &out)
	es := compliance.Session{UserID: s.UserID, Cookies: s.Cookies, Header: http.Header{"X-Csrf-Token": {out.CSRFToken}}}
	if cookies := rec.Result().Cookies(); len(cookies) > 0 {
		es.Cookies = cookies
	}
	return es, true
}

// TestServiceConfigReport: every start writes hipaakit.json; "hipaakit
// report" (report.Collect and BuildReport) run on it finds every
// technical control met once the clinic has a verified, drilled backup —
// on the embedded stores and on PostgreSQL.
func TestServiceConfigReport(t *testing.T) { onEveryStore(t, testServiceConfigReport) }

func testServiceConfigReport(t *testing.T, s storeSetup) {
	// The master key on a place of its own: beside the data directory
	// (the default) one copy of their parent would take both, which the
	// report names as a gap (compliance/report TestCollectDefaultsBesideDataDir).
	s.cfg.MasterKeyFile = filepath.Join(t.TempDir(), "master.key")
	tc := startClinicTicking(t, s.cfg)
	doc := tc.login(rolePhysician)
	gone := newPatient(t, doc, "MRN-7101", "Report Patient")
	admin := tc.login(roleAdmin)
	admin.mustStatus(http.StatusOK, "POST", "/api/patients/"+gone+"/shred", map[string]string{"reason": "patient request"}, nil)
	var made struct{ Backups []string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/backups", nil, &made)
	for _, id := range made.Backups {
		admin.mustStatus(http.StatusOK, "POST", "/api/backups/"+id+"/verify", nil, nil)
	}
	admin.mustStatus(http.StatusOK, "POST", "/api/backups/drill", nil, nil)
	now := tc.app.now()
	tc.stop()

	path := filepath.Join(s.cfg.DataDir, serviceconfig.FileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("hipaakit.json mode: %v %v", fi, err)
	}
	for _, secret := range []string{"PRIVATE", "password\":", "master_key"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("hipaakit.json holds %q:\n%s", secret, raw)
		}
	}
	sc, err := serviceconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if (sc.DatabaseURL != "") != (s.cfg.DatabaseURL != "") {
		t.Fatalf("hipaakit.json names the wrong stores: %+v", sc)
	}
	ev, err := report.Collect(context.Background(), sc, now)
	if err != nil {
		t.Fatal(err)
	}
	rep := report.Build(ev)
	for _, row := range rep.Rows {
		if row.Status != report.Met {
			t.Errorf("%s %s: %s; gaps %v; evidence %v", row.Control, row.Title, row.Status, row.Gaps, row.Evidence)
		}
	}
	if len(rep.Rows) == 0 || ev.Encryption == nil || ev.Encryption.Shredded != 1 {
		t.Fatalf("report: %d rows, encryption %+v, notes %v", len(rep.Rows), ev.Encryption, ev.Notes)
	}
}
