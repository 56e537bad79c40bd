package suite

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// checkAccess: 401 without a session on every route; each role allowed only
// where declared, else 403; an undeclared route is denied; roles cannot be
// raised through headers, claims or query parameters.
func (r *runner) checkAccess(t T, control string) {
	if r.remote == nil {
		r.checkServed(t, control)
	}
	for _, rt := range r.tg.Routes {
		if res := r.do(t, rt, nil, nil); !r.unauthenticated(res) {
			t.Errorf("%s: %s without a session returned %s, want 401", control, rt.name(), statusText(res.status))
		}
	}
	unsent := 0
	for _, rt := range r.tg.Routes {
		for _, role := range r.tg.Roles {
			allowed := contains(rt.Roles, role)
			if allowed && !r.sendable(rt) {
				unsent++
				continue
			}
			s := r.session(t, role)
			res := r.do(t, rt, &s, nil)
			switch {
			case allowed && !r.succeeded(res):
				t.Errorf("%s: %s as %s returned %s, want success (the role is allowed)", control, rt.name(), role, statusText(res.status))
			case !allowed && res.status != http.StatusForbidden:
				t.Errorf("%s: %s as %s returned %s, want 403", control, rt.name(), role, statusText(res.status))
			}
		}
	}
	for _, rt := range r.tg.Routes {
		if rt.DenyOnly != "" {
			t.Logf("%s: %s was checked for refusals only: %s", control, rt.name(), rt.DenyOnly)
		}
	}
	if unsent > 0 && r.remote != nil {
		t.Logf("%s: %d allowed uses of routes that change state were not sent (the check writes nothing into a live deployment; mark a route \"send\" in the check file to include it)", control, unsent)
	}
	r.checkUndeclared(t, control)
	r.checkEscalation(t, control)
	r.checkCSRF(t, control)
}

// checkUndeclared probes a path no route declares, and each declared path
// with a method no route declares for it.
func (r *runner) checkUndeclared(t T, control string) {
	declared := map[string]bool{}
	for _, rt := range r.tg.Routes {
		declared[rt.Method+" "+rt.Path] = true
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	var probes []Route
	for _, m := range methods {
		probes = append(probes, Route{Method: m, Path: "/compliance-undeclared-route", Body: "{}"})
	}
	if r.remote != nil {
		// A live deployment's declared paths are real records: probe them
		// with undeclared methods that change nothing, should they work.
		methods = []string{http.MethodGet}
	}
	for _, rt := range r.tg.Routes {
		for _, m := range methods {
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

func (r *runner) checkEscalation(t T, control string) {
	for _, rt := range r.tg.Routes {
		if len(rt.Roles) == 0 || !r.sendable(rt) {
			continue // an escalation that worked would change a live deployment
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

// checkHeaders: every declared route answers with the basic security
// headers and Cache-Control: no-store (a session's responses must not be
// cached anywhere). Routes the suite may not send as an allowed role are
// checked on their refusal without a session. Over the network, also TLS,
// HSTS and the session cookie's flags (checks_tls.go).
func (r *runner) checkHeaders(t T, control string) {
	for _, rt := range r.tg.Routes {
		var res response
		how := "without a session"
		if len(rt.Roles) > 0 && r.sendable(rt) {
			s := r.session(t, rt.Roles[0])
			res = r.do(t, rt, &s, nil)
			how = "as " + rt.Roles[0]
			if !r.succeeded(res) {
				t.Errorf("%s: %s as %s returned %s; cannot check its headers", control, rt.name(), rt.Roles[0], statusText(res.status))
				continue
			}
		} else {
			res = r.do(t, rt, nil, nil)
		}
		r.checkResponseHeaders(t, control, rt.name()+" "+how, res)
	}
	if r.remote != nil {
		r.checkTLS(t, control)
		r.checkCookieFlags(t, control)
	}
}

// checkResponseHeaders reports the security headers res lacks.
func (r *runner) checkResponseHeaders(t T, control, what string, res response) {
	if !strings.Contains(strings.ToLower(res.header.Get("Cache-Control")), "no-store") {
		t.Errorf("%s: %s answers without Cache-Control: no-store (got %q)", control, what, res.header.Get("Cache-Control"))
	}
	if !strings.EqualFold(res.header.Get("X-Content-Type-Options"), "nosniff") {
		t.Errorf("%s: %s lacks X-Content-Type-Options: nosniff", control, what)
	}
	csp := res.header.Get("Content-Security-Policy")
	if res.header.Get("X-Frame-Options") == "" && !strings.Contains(csp, "frame-ancestors") {
		t.Errorf("%s: %s lacks frame protection (X-Frame-Options or CSP frame-ancestors)", control, what)
	}
	if res.header.Get("Referrer-Policy") == "" {
		t.Errorf("%s: %s lacks a Referrer-Policy header", control, what)
	}
	if r.remote != nil {
		checkHSTS(t, control, what, res)
	}
}
