package hipaakit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// TestProtect: the chain refuses a request without a session (401), a
// session whose roles lack the permission (403) and an unregistered route
// (404), serves a permitted one and audits it with its subject, and every
// answer carries the security headers; Routes lists the registered route.
func TestProtect(t *testing.T) {
	const perm policy.Permission = "record:read"
	rbac, err := policy.NewRBAC([]policy.Permission{perm}, []policy.Role{{Name: "reader", Permissions: []policy.Permission{perm}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, clk := embedded(t, nil)
	cfg.Auth.RBAC = rbac
	d := open(t, cfg)
	protected, err := d.Protect(hipaakit.ProtectConfig{Subject: func(r *http.Request) string { return r.PathValue("id") }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Protect(hipaakit.ProtectConfig{}); err != hipaakit.ErrProtectTwice {
		t.Fatalf("second Protect: %v", err)
	}
	d.Auth.HandleFunc("GET /records/{id}", perm, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, auth.PHI())
	if got := d.Routes(); len(got) != 1 || got[0] != (auth.Route{Pattern: "GET /records/{id}", Permission: perm, PHI: true}) {
		t.Fatalf("Routes: %+v", got)
	}
	srv := httptest.NewTLSServer(d.SecurityHeaders(protected))
	defer srv.Close()

	cookie := func(u *auth.User) *http.Cookie {
		rec := httptest.NewRecorder()
		if _, _, err := d.Auth.Begin(context.Background(), rec, httptest.NewRequest("POST", "/login", nil), u, true); err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()[0]
	}
	reader, other := cookie(login(t, d, clk, "alice", "reader")), cookie(login(t, d, clk, "bob"))
	get := func(path string, c *http.Cookie) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Cache-Control") != "no-store" ||
			resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: security headers missing: %v", path, resp.Header)
		}
		return resp.StatusCode
	}
	for _, c := range []struct {
		path   string
		cookie *http.Cookie
		want   int
	}{
		{"/records/p1", nil, http.StatusUnauthorized},
		{"/records/p1", other, http.StatusForbidden},
		{"/nowhere", reader, http.StatusNotFound},
		{"/records/p1", reader, http.StatusOK},
	} {
		if got := get(c.path, c.cookie); got != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, got, c.want)
		}
	}
	n := 0
	for r, err := range d.Audit.Search(context.Background(), audit.Filter{Subject: "p1"}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Event.Action == audit.ActionRead {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d read events for p1, want 1", n)
	}
}
