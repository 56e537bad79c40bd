package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/compliance"
	"github.com/hipaakit/hipaakit/compliance/suite"
)

// TestCheckLiveClinic starts the clinic on the real clock behind its own
// TLS configuration (tls.go: a self-signed certificate, TLS 1.2 minimum) on
// a loopback port, with seconds-short session limits set by this test, and
// runs suite.Check against it as "hipaakit check https://HOST" does:
// every control it can show from outside passes, the three that need the
// audit trail are reported not checked, and every session it opened is
// logged out afterwards. Automatic logoff is excluded here: auth's tenant
// policy allows no idle timeout under a minute, and waiting out minutes has
// no place in CI; compliance's TestCheckOverTLS checks it over the network
// with seconds-short limits, and TestComplianceSuite on the clinic with
// the fake clock.
func TestCheckLiveClinic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(dir)
	var logs bytes.Buffer
	ctx := context.Background()
	a, err := openApp(ctx, cfg, clock.System, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.seed(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := a.handler()
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := tlsConfig("", "", dir, a.now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused TLS 1.0 and weak-suite handshakes
	srv.TLS = tlsCfg
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("the clinic's certificate: %v", err)
	}

	patient, err := a.clinic.create(ctx, patientIn{"mrn": "MRN-8001", "name": "Live Check", "dob": "1970-01-02", "zip": "02139"}, seedActor, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	file, userIDs := liveCheckFile(t, a, patient)
	path := filepath.Join(dir, "check.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	cf, err := suite.ParseCheckFile(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := suite.Check(ctx, suite.CheckConfig{URL: srv.URL, File: cf, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("results:\n%s", res)
	notChecked := map[string]bool{compliance.ControlAudit: true, compliance.ControlEmergency: true, compliance.ControlIntegrity: true}
	excluded := compliance.ControlAutoLogoff
	if len(res) != len(compliance.Controls()) {
		t.Fatalf("%d results for %d controls", len(res), len(compliance.Controls()))
	}
	for _, r := range res {
		want := suite.Passed
		if notChecked[r.Control] {
			want = suite.NotChecked
		}
		if r.Control == excluded {
			want = suite.Excluded
		}
		if r.Status != want {
			t.Errorf("%s: %s, want %s: %v", r.Control, r.Status, want, r.Messages)
		}
	}
	// Cleanup: no session the check opened is still valid.
	for _, id := range userIDs {
		ss, err := a.d.Sessions.ListUserSessions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			if now := time.Now(); now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(cfg.IdleTimeout)) {
				t.Errorf("a session of test user %s is still open after the check", id)
			}
		}
	}
	if strings.Contains(logs.String(), "CANARY-PHI") {
		t.Error("the canary reached the clinic's logs")
	}
}

// liveCheckFile creates the test users (TOTP factors imported, so no code
// is spent before the check) and returns the check file.
func liveCheckFile(t *testing.T, a *app, patient string) ([]byte, []string) {
	t.Helper()
	ctx := context.Background()
	type user struct {
		Name       string `json:"name"`
		Password   string `json:"password"`
		TOTPSecret string `json:"totp_secret,omitempty"`
		Role       string `json:"role,omitempty"`
	}
	var ids []string
	mk := func(name, role string, mfa bool) user {
		pw, err := randomPassword()
		if err != nil {
			t.Fatal(err)
		}
		u, err := a.d.Auth.CreateUser(ctx, auth.NewUser{TenantID: demoTenant, Name: name, Roles: []string{role}, Admin: role == roleAdmin, Password: pw}, seedActor, audit.Origin{})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		ids = append(ids, u.ID)
		out := user{Name: name, Password: pw, Role: role}
		if mfa {
			raw := make([]byte, 20)
			rand.Read(raw)
			out.TOTPSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
			if _, err := a.d.Auth.ImportTOTP(ctx, u.ID, totp.Import{Secret: out.TOTPSecret}, seedActor, audit.Origin{}); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	var users, pwOnly []user
	for _, role := range demoRoles {
		n := 3
		if role == roleAdmin {
			n = 4 // the sessions and logoff checks log in as the first role in name order
		}
		for i := range n {
			users = append(users, mk(role+"-live-"+string(rune('a'+i)), role, true))
		}
		pwOnly = append(pwOnly, mk(role+"-live-nomfa", role, false))
	}
	lock := mk("nurse-live-lockout", roleNurse, true)
	lock.TOTPSecret, lock.Role = "", ""
	p := "/api/patients/" + patient
	routes := []map[string]any{
		{"method": "POST", "path": "/api/patients/search", "pattern": "POST /api/patients/search", "body": `{"mrn":"MRN-8001"}`, "phi": true,
			"roles": []string{rolePhysician, roleNurse, roleLab, roleFrontDesk}},
		{"method": "GET", "path": p, "pattern": "GET /api/patients/{id}", "phi": true, "roles": []string{rolePhysician, roleNurse, roleFrontDesk}},
		{"method": "PUT", "path": p, "pattern": "PUT /api/patients/{id}", "body": `{"zip":"02139"}`, "phi": true, "roles": []string{rolePhysician, roleFrontDesk}},
		{"method": "POST", "path": p + "/notes", "pattern": "POST /api/patients/{id}/notes", "body": `{"value":"x"}`, "phi": true, "roles": []string{rolePhysician}},
		{"method": "GET", "path": "/api/audit", "roles": []string{roleAuditor}},
		{"method": "GET", "path": p + "/disclosures", "pattern": "GET /api/patients/{id}/disclosures", "roles": []string{roleAuditor}},
		{"method": "GET", "path": "/api/breach/incidents", "roles": []string{rolePrivacyOfficer}},
		{"method": "GET", "path": "/api/holds", "roles": []string{roleAdmin}},
		{"method": "GET", "path": "/api/backups", "roles": []string{roleAdmin}},
		{"method": "POST", "path": "/api/backups", "roles": []string{roleAdmin}},
	}
	b, err := json.Marshal(map[string]any{
		"version": 1, "tenant_id": demoTenant, "auth_prefix": "/api/auth", "roles": demoRoles, "routes": routes,
		"users": users, "password_only_users": pwOnly, "lockout_user": lock, "lockout_threshold": lockoutThreshold,
		"require_mfa": true, "idle_timeout": "15m", "session_lifetime": "12h",
		"exclude": map[string]string{compliance.ControlAutoLogoff: "the tenant policy allows no idle timeout under a minute; checked by TestCheckOverTLS and TestComplianceSuite"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, ids
}
