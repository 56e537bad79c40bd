package compliance

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// checkAccess: 401 without a session on every route; each role allowed only
// where declared, else 403; an undeclared route is denied; roles cannot be
// raised through headers, claims or query parameters.
func (r *runner) checkAccess(t *testing.T, control string) {
	for _, rt := range r.tg.Routes {
		if res := r.do(t, rt, nil, nil); res.status != http.StatusUnauthorized {
			t.Errorf("%s: %s without a session returned %s, want 401", control, rt.name(), statusText(res.status))
		}
	}
	for _, rt := range r.tg.Routes {
		for _, role := range r.tg.Roles {
			s := r.session(t, role)
			res := r.do(t, rt, &s, nil)
			allowed := contains(rt.Roles, role)
			switch {
			case allowed && !ok2xx(res.status):
				t.Errorf("%s: %s as %s returned %s, want success (the role is allowed)", control, rt.name(), role, statusText(res.status))
			case !allowed && res.status != http.StatusForbidden:
				t.Errorf("%s: %s as %s returned %s, want 403", control, rt.name(), role, statusText(res.status))
			}
		}
	}
	r.checkUndeclared(t, control)
	r.checkEscalation(t, control)
}

// checkUndeclared probes a path no route declares, and each declared path
// with a method no route declares for it.
func (r *runner) checkUndeclared(t *testing.T, control string) {
	declared := map[string]bool{}
	for _, rt := range r.tg.Routes {
		declared[rt.Method+" "+rt.Path] = true
	}
	probes := []Route{{Method: http.MethodGet, Path: "/compliance-undeclared-route"}}
	for _, rt := range r.tg.Routes {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if !declared[m+" "+rt.Path] {
				probes = append(probes, Route{Method: m, Path: rt.Path, Body: "{}"})
				declared[m+" "+rt.Path] = true // probe each once
			}
		}
	}
	for _, role := range r.tg.Roles {
		s := r.session(t, role)
		for _, p := range probes {
			if res := r.do(t, p, &s, nil); ok2xx(res.status) {
				t.Errorf("%s: undeclared route %s as %s returned %s, want it denied", control, p.name(), role, statusText(res.status))
			}
		}
	}
}

// escalationAttempts are the ways a client might try to claim a role.
func escalationAttempts(role string) map[string]func(*http.Request) {
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"role":"` + role + `","roles":["` + role + `"],"admin":true}`))
	jwt := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + claims + "."
	setHeader := func(k, v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(k, v) }
	}
	return map[string]func(*http.Request){
		"X-Role header":      setHeader("X-Role", role),
		"X-User-Role header": setHeader("X-User-Role", role),
		"X-Roles header":     setHeader("X-Roles", role),
		"X-Forwarded-Role":   setHeader("X-Forwarded-Role", role),
		"unsigned JWT claim": setHeader("Authorization", "Bearer "+jwt),
		"role cookie":        func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "role", Value: role}) },
		"role query parameters": func(r *http.Request) {
			q := r.URL.Query()
			q.Set("role", role)
			q.Set("roles", role)
			q.Set("admin", "true")
			r.URL.RawQuery = q.Encode()
		},
	}
}

func (r *runner) checkEscalation(t *testing.T, control string) {
	for _, rt := range r.tg.Routes {
		if len(rt.Roles) == 0 {
			continue
		}
		for _, role := range r.deniedRoles(rt) {
			s := r.session(t, role)
			if res := r.do(t, rt, &s, nil); ok2xx(res.status) {
				continue // already reported by the role matrix; escalation adds nothing
			}
			for how, mutate := range escalationAttempts(rt.Roles[0]) {
				if res := r.do(t, rt, &s, mutate); ok2xx(res.status) {
					t.Errorf("%s: %s as %s succeeded (%s) after claiming role %q through %s; roles must come only from the server-side session",
						control, rt.name(), role, statusText(res.status), rt.Roles[0], how)
				}
			}
		}
	}
}

// checkHeaders: PHI responses carry Cache-Control: no-store, and every
// successful response carries the basic security headers.
func (r *runner) checkHeaders(t *testing.T, control string) {
	for _, rt := range r.tg.Routes {
		if len(rt.Roles) == 0 {
			continue
		}
		s := r.session(t, rt.Roles[0])
		res := r.do(t, rt, &s, nil)
		if !ok2xx(res.status) {
			t.Errorf("%s: %s as %s returned %s; cannot check its headers", control, rt.name(), rt.Roles[0], statusText(res.status))
			continue
		}
		if rt.PHI && !strings.Contains(strings.ToLower(res.header.Get("Cache-Control")), "no-store") {
			t.Errorf("%s: %s returns PHI without Cache-Control: no-store (got %q)", control, rt.name(), res.header.Get("Cache-Control"))
		}
		if !strings.EqualFold(res.header.Get("X-Content-Type-Options"), "nosniff") {
			t.Errorf("%s: %s lacks X-Content-Type-Options: nosniff", control, rt.name())
		}
		csp := res.header.Get("Content-Security-Policy")
		if res.header.Get("X-Frame-Options") == "" && !strings.Contains(csp, "frame-ancestors") {
			t.Errorf("%s: %s lacks frame protection (X-Frame-Options or CSP frame-ancestors)", control, rt.name())
		}
		if res.header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: %s lacks a Referrer-Policy header", control, rt.name())
		}
	}
}
