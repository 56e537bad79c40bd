package compliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/compliance/suite"
)

// The fixture's JSON login, shaped like auth.Service's endpoints, for Check.
func (f *fixture) mountAuth() {
	f.mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		var b struct{ TenantID, Name, Password, TOTPCode string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&struct {
			TenantID *string `json:"tenant_id"`
			Name     *string `json:"name"`
			Password *string `json:"password"`
			TOTPCode *string `json:"totp_code"`
		}{&b.TenantID, &b.Name, &b.Password, &b.TOTPCode}); err != nil {
			http.Error(w, `{"error":"bad_request"}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		u, ok := f.users[b.Name]
		if !ok {
			http.Error(w, `{"error":"invalid_credentials"}`, http.StatusUnauthorized)
			return
		}
		tok, err := f.login(u, b.Password)
		if err != nil {
			http.Error(w, `{"error":"invalid_credentials"}`, http.StatusUnauthorized)
			return
		}
		if u.secret != "" {
			now := f.clock.Now()
			step := now.Unix() / 30
			if b.TOTPCode == "" {
				delete(f.sessions, tok)
				w.Write([]byte(`{"status":"second_factor_required"}`))
				return
			}
			if step <= u.lastStep || !validAt(b.TOTPCode, u.secret, now) {
				delete(f.sessions, tok)
				http.Error(w, `{"error":"invalid_credentials"}`, http.StatusUnauthorized)
				return
			}
			u.lastStep = step
			f.sessions[tok].mfa = true
		}
		c := &http.Cookie{Name: "sid", Value: tok, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
		if f.broken == "loose-cookie" {
			c = &http.Cookie{Name: "sid", Value: tok, Path: "/"}
		}
		http.SetCookie(w, c)
		json.NewEncoder(w).Encode(map[string]string{"status": "authenticated", "user_id": u.id, "csrf_token": f.sessions[tok].csrf})
	})
	f.mux.HandleFunc("POST /auth/logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("sid"); err == nil {
			f.mu.Lock()
			delete(f.sessions, c.Value)
			f.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	f.route("POST /auth/session/keepalive", nil, false, func(w http.ResponseWriter, r *http.Request, s *fxSession) {
		w.Write([]byte(`{}`))
	})
}

// overTLS serves the fixture (broken as named) on the real clock with
// seconds-short session limits behind a TLS server, and returns its URL,
// the check file for it and the server.
func overTLS(t *testing.T, broken string) (*httptest.Server, *suite.CheckFile, *fixture) {
	t.Helper()
	f := newFixture(broken)
	f.clock, f.idle, f.absolute = clock.System, 2*time.Second, 5*time.Second
	f.mountAuth()
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if broken == "weak-tls" {
		srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	type user struct {
		Name       string `json:"name"`
		Password   string `json:"password"`
		TOTPSecret string `json:"totp_secret,omitempty"`
		Role       string `json:"role,omitempty"`
	}
	var users, pwOnly []user
	f.mu.Lock()
	for _, role := range []string{"physician", "nurse", "frontdesk", "auditor"} {
		for range 6 { // enough that no login waits for the next TOTP step
			u := f.newUser(role)
			users = append(users, user{u.id, u.password, u.secret, role})
		}
		u := f.newUser(role)
		u.secret = ""
		pwOnly = append(pwOnly, user{u.id, u.password, "", role})
	}
	lock := f.newUser("nurse")
	f.mu.Unlock()
	var exclude map[string]string
	if broken != "" && broken != "no-idle-timeout" {
		// Only the broken logoff needs the real-time wait.
		exclude = map[string]string{ControlAutoLogoff: "checked by TestCheckOverTLS"}
	}
	b, _ := json.Marshal(map[string]any{"exclude": exclude,
		"version": 1, "tenant_id": "t", "auth_prefix": "/auth", "roles": []string{"physician", "nurse", "frontdesk", "auditor"},
		"routes": []map[string]any{
			{"method": "GET", "path": "/patients/p-1", "pattern": "GET /patients/{id}", "roles": []string{"physician", "nurse"}, "phi": true},
			{"method": "PUT", "path": "/patients/p-1", "pattern": "PUT /patients/{id}", "roles": []string{"physician"}, "phi": true, "body": `{"name":"Jane Roe"}`, "send": true},
			{"method": "GET", "path": "/schedule", "roles": []string{"physician", "nurse", "frontdesk"}},
		},
		"users": users, "password_only_users": pwOnly, "lockout_user": user{Name: lock.id, Password: lock.password},
		"lockout_threshold": fxLockout, "require_mfa": true, "idle_timeout": "2s", "session_lifetime": "5s",
	})
	cf, err := suite.ParseCheckFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cf, f
}

func runCheck(t *testing.T, broken string) suite.Results {
	t.Helper()
	srv, cf, _ := overTLS(t, broken)
	res, err := suite.Check(context.Background(), suite.CheckConfig{URL: srv.URL, File: cf, RootCAs: rootsOf(srv)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func rootsOf(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

// TestCheckOverTLS runs Check against the correct fixture over TLS on the
// real clock: every control it can show from outside passes, including
// idle and absolute logoff waited out in real time (2 s and 5 s limits),
// and no session it opened is left open.
func TestCheckOverTLS(t *testing.T) {
	srv, cf, f := overTLS(t, "")
	res, err := suite.Check(context.Background(), suite.CheckConfig{URL: srv.URL, File: cf, RootCAs: rootsOf(srv)})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	if n := len(f.sessions); n != 0 {
		t.Errorf("%d sessions left open after the check", n)
	}
	f.mu.Unlock()
	t.Logf("\n%s", res)
	for _, r := range res {
		want := suite.Passed
		if r.Control == ControlAudit || r.Control == ControlEmergency || r.Control == ControlIntegrity {
			want = suite.NotChecked
		}
		if r.Status != want {
			t.Errorf("%s: %s, want %s: %v", r.Control, r.Status, want, r.Messages)
		}
	}
}

// TestCheckBrokenOverTLS: each broken fixture fails its control, and only
// it, with a readable message.
func TestCheckBrokenOverTLS(t *testing.T) {
	cases := []struct {
		broken, control, want string
	}{
		{"weak-tls", ControlTransmission, "accepts TLS 1.0"},
		{"weak-tls", ControlTransmission, "accepts the weak cipher suite TLS_RSA_WITH_AES_128_CBC_SHA"},
		{"no-hsts", ControlTransmission, "GET /schedule as physician lacks Strict-Transport-Security"},
		{"loose-cookie", ControlTransmission, "the login cookie sid lacks Secure, HttpOnly, SameSite=Strict or Lax"},
		{"no-csrf", ControlAccess, "POST /auth/session/keepalive as frontdesk from another site, with the session cookie but no CSRF token, returned 200 OK"},
		{"echoes-canary", ControlConfidential, "echoed canary PHI from the request"},
		{"trusts-role-header", ControlAccess, `GET /patients/{id} as frontdesk succeeded (200 OK) after claiming role "physician" through X-Role header`},
		{"no-idle-timeout", ControlAutoLogoff, "GET /schedule after 3s idle returned 200 OK, want 401"},
		{"no-mfa-enforcement", ControlMFA, "with a password-only session returned 200 OK, want 403"},
	}
	seen := map[string]suite.Results{}
	for _, c := range cases {
		t.Run(c.broken+"/"+c.want, func(t *testing.T) {
			res, ok := seen[c.broken]
			if !ok {
				res = runCheck(t, c.broken)
				seen[c.broken] = res
			}
			for _, r := range res {
				if r.Control == c.control {
					if r.Status != suite.Failed || !strings.Contains(strings.Join(r.Messages, "\n"), c.want) {
						t.Errorf("%s: %s, want failed with %q:\n%s", r.Control, r.Status, c.want, res)
					}
				} else if r.Status == suite.Failed && c.broken != "weak-tls" {
					t.Errorf("%s failed too:\n%s", r.Control, res)
				}
			}
		})
	}
}

// TestCheckRequestBudget: a run whose budget is spent fails the checks
// that needed more requests, naming the budget, sends no more than it
// allows (plus the logouts of the sessions it opened), and still logs
// every session out.
func TestCheckRequestBudget(t *testing.T) {
	srv, cf, f := overTLS(t, "")
	var sent atomic.Int64
	inner := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/logout" {
			sent.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	res, err := suite.Check(context.Background(), suite.CheckConfig{URL: srv.URL, File: cf, RootCAs: rootsOf(srv), MaxRequests: 40})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed() || !strings.Contains(res.String(), "the request budget (40 requests and connections) is spent") {
		t.Fatalf("results:\n%s", res)
	}
	if n := sent.Load(); n > 40 {
		t.Fatalf("%d requests sent, budget 40", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.sessions); n != 0 {
		t.Fatalf("%d sessions left open", n)
	}
}
