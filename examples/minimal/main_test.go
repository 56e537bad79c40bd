package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
)

// TestMinimal runs the example end to end on each configuration it
// supports, each given the way the program gets it (the environment
// through hipaakit.ConfigFromEnv): the embedded defaults, PostgreSQL, and
// PostgreSQL with AWS KMS (a fake KMS).
func TestMinimal(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { endToEnd(t, map[string]string{}) })
	t.Run("postgres", func(t *testing.T) { endToEnd(t, map[string]string{hipaakit.EnvDatabaseURL: postgresURL(t)}) })
	t.Run("postgres+kms", func(t *testing.T) {
		kms := kmstest.NewServer(t)
		awsTestEnv(t)
		endToEnd(t, map[string]string{hipaakit.EnvDatabaseURL: postgresURL(t),
			hipaakit.EnvKMSKeyID: kms.KeyARN(), hipaakit.EnvKMSEndpoint: kms.URL()})
		if kms.Calls("Encrypt") == 0 {
			t.Fatal("the patient's key was not wrapped by KMS")
		}
	})
}

// endToEnd: the doctor signs in with password, enrols TOTP, reads the
// patient (sealed at rest, revealed on the audited route); the clerk, signed
// in with MFA too, is refused by RBAC; a later sign-in takes password and
// TOTP code in one step; the audit trail holds the access and the refusal
// and verifies.
func endToEnd(t *testing.T, env map[string]string) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg, err := hipaakit.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	cfg.Clock, cfg.PlainHTTP = clk, true
	var out bytes.Buffer
	d, h, err := open(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	pw := map[string]string{}
	for _, m := range regexp.MustCompile(`user (\w+) \(role \w+\) with password (\S+)`).FindAllStringSubmatch(out.String(), -1) {
		pw[m[1]] = m[2]
	}
	if len(pw) != 2 {
		t.Fatalf("the first start printed %d passwords, want 2:\n%s", len(pw), out.String())
	}

	anon := newClient(t, srv)
	if st, _ := anon.call("GET", "/patients/"+demoPatient, nil); st != http.StatusUnauthorized {
		t.Fatalf("without a session: %d, want 401", st)
	}
	doctor := newClient(t, srv)
	doctorID := doctor.signIn(tenant, "doctor", pw["doctor"], "")
	if st, _ := doctor.call("GET", "/patients/"+demoPatient, nil); st != http.StatusForbidden {
		t.Fatalf("before enrolling MFA: %d, want 403 (the tenant requires MFA)", st)
	}
	secret := doctor.enrolTOTP(clk)
	st, body := doctor.call("GET", "/patients/"+demoPatient, nil)
	if st != http.StatusOK || !strings.Contains(string(body), `"diagnosis":"Type 2 diabetes"`) {
		t.Fatalf("the physician's read: %d %s", st, body)
	}
	clerk := newClient(t, srv)
	clerkID := clerk.signIn(tenant, "clerk", pw["clerk"], "")
	clerk.enrolTOTP(clk)
	if st, _ := clerk.call("GET", "/patients/"+demoPatient, nil); st != http.StatusForbidden {
		t.Fatalf("the clerk's read: %d, want 403 (RBAC)", st)
	}
	again := newClient(t, srv)
	clk.Advance(30 * time.Second) // each TOTP code is accepted once
	again.signIn(tenant, "doctor", pw["doctor"], totpCode(t, secret, clk))
	if st, _ := again.call("GET", "/patients/"+demoPatient, nil); st != http.StatusOK {
		t.Fatalf("a sign-in with password and TOTP in one step, then the read: %d", st)
	}

	stored, err := os.ReadFile(filepath.Join(dir, patientsDir, demoPatient))
	if err != nil || bytes.Contains(stored, []byte("diabetes")) {
		t.Fatalf("the stored diagnosis is not sealed (%v)", err)
	}
	count := func(f audit.Filter, reason string) int {
		n := 0
		for rec, err := range d.Audit.Search(ctx, f) {
			if err != nil {
				t.Fatal(err)
			}
			if reason == "" || rec.Event.Reason == reason {
				n++
			}
		}
		return n
	}
	read := []audit.Action{audit.ActionRead}
	for _, c := range []struct {
		what string
		f    audit.Filter
		why  string
		want int
	}{
		{"the physician's reads of the patient", audit.Filter{Subject: demoPatient, ActorID: doctorID, Actions: read}, "", 2},
		{"the diagnosis revealed to the physician", audit.Filter{Subject: demoPatient, ActorID: doctorID, Actions: []audit.Action{audit.ActionReveal}}, "", 2},
		{"reads of the patient by the clerk", audit.Filter{Subject: demoPatient, ActorID: clerkID, Actions: read}, "", 0},
		{"the clerk's refusal by RBAC", audit.Filter{ActorID: clerkID, Actions: []audit.Action{audit.ActionPermissionDenied}}, "no_permission", 1},
		{"the physician's refusal before MFA", audit.Filter{ActorID: doctorID, Actions: []audit.Action{audit.ActionPermissionDenied}}, "mfa_required", 1},
	} {
		if n := count(c.f, c.why); n != c.want {
			t.Errorf("audit trail: %d events for %s, want %d", n, c.what, c.want)
		}
	}
	if res, err := d.Audit.Verify(ctx, audit.VerifyOptions{Keys: d.TrustedKeys()}); err != nil || len(res.Streams) == 0 {
		t.Fatalf("the audit trail does not verify: %+v, %v", res, err)
	}
}

// client is one browser-like user of the service.
type client struct {
	t    *testing.T
	srv  *httptest.Server
	hc   *http.Client
	csrf string
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, srv: srv, hc: &http.Client{Jar: jar}}
}

// call sends a JSON body (when not nil) with the CSRF token.
func (c *client) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mustJSON sends the request, requires 200 and decodes the answer.
func (c *client) mustJSON(method, path string, body, out any) {
	c.t.Helper()
	st, b := c.call(method, path, body)
	if st != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
}

// signIn signs in and returns the user's ID.
func (c *client) signIn(tenant, name, password, code string) string {
	c.t.Helper()
	var res struct {
		Status    string `json:"status"`
		UserID    string `json:"user_id"`
		CSRFToken string `json:"csrf_token"`
	}
	c.mustJSON("POST", "/auth/login", map[string]string{"tenant_id": tenant, "name": name, "password": password, "totp_code": code}, &res)
	if res.Status != "authenticated" {
		c.t.Fatalf("sign-in of %s: status %q", name, res.Status)
	}
	c.csrf = res.CSRFToken
	return res.UserID
}

// enrolTOTP enrols and confirms TOTP on the signed-in session, which then
// counts as an MFA session, and returns the secret.
func (c *client) enrolTOTP(clk *clock.Fake) string {
	c.t.Helper()
	var enr struct{ Secret string }
	c.mustJSON("POST", "/auth/mfa/totp/enroll", map[string]string{}, &enr)
	var conf struct {
		CSRFToken string `json:"csrf_token"`
	}
	c.mustJSON("POST", "/auth/mfa/totp/confirm", map[string]string{"code": totpCode(c.t, enr.Secret, clk)}, &conf)
	c.csrf = conf.CSRFToken
	return enr.Secret
}

func totpCode(t *testing.T, secret string, clk *clock.Fake) string {
	code, err := hipaakittest.TOTPCode(secret, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// postgresURL is the test database's URL confined to a fresh schema; the
// deployment's ledger schema beside it is dropped at the end too.
func postgresURL(t *testing.T) string {
	pool, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema + hipaakit.LedgerSchemaSuffix}.Sanitize()+" CASCADE")
	})
	u, err := url.Parse(hipaakittest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// awsTestEnv gives the AWS SDK static test credentials and nothing else.
func awsTestEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDMINIMALTEST", "AWS_SECRET_ACCESS_KEY": "minimal-test-secret",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials")} {
		t.Setenv(k, v)
	}
}
