package auth

// The request chain (session → policy → RBAC → audit) is described in
// the package documentation (doc.go).

import (
	"context"
	"errors"
	"net/http"

	"github.com/hipaakit/hipaakit/audit"
)

// Error codes in JSON error bodies. They tell a client what to do next and
// nothing more.
const (
	codeUnauthenticated = "unauthenticated"
	codeForbidden       = "forbidden"
	codeNotFound        = "not_found"
	codeMFARequired     = "mfa_required"
	codePasskeyRequired = "passkey_required"
	codePasswordExpired = "password_expired"
	codeReauth          = "reauthentication_required"
	codeCSRF            = "csrf_failed"
	codeUnavailable     = "unavailable"
	codeBadRequest      = "bad_request"
)

// writeError sends {"error": code} with status. code is one of the
// constants above, so nothing needs escaping.
func writeError(w http.ResponseWriter, status int, code string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(`{"error":"` + code + `"}` + "\n")) //nolint:errcheck // the client went away
}

// Middleware is the session step of the chain. It puts the Principal into
// the request context (see PrincipalFromContext and ActorFromRequest).
func (m *sessionManager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := m.load(r.Context(), r)
		if err != nil {
			m.refuse(w, r, err)
			return
		}
		if st.viaCookie && !safeMethod(r.Method) {
			if err := m.checkCSRF(w, r, st.token); err != nil {
				m.deny(r.Context(), r, st.p.Actor(), "csrf")
				writeError(w, http.StatusForbidden, codeCSRF)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// refuse answers a request whose session could not be established.
func (m *sessionManager) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrInvalidSession) {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	m.logError(r.Context(), "session check", err)
	writeError(w, http.StatusServiceUnavailable, codeUnavailable)
}

// deny records a permission_denied event. The request is refused whether
// or not the event could be stored.
func (m *sessionManager) deny(ctx context.Context, r *http.Request, actor audit.Actor, reason string) {
	m.record(ctx, r, actor, audit.ActionPermissionDenied, audit.OutcomeFailure, reason) //nolint:errcheck // logged; refused anyway
}

// EnforcePolicy is the policy step of the chain: it refuses (403
// "mfa_required") a session established without a second factor in a
// tenant whose policy requires MFA, and (403 "password_expired") a user
// whose password is older than the tenant's password policy allows, when
// SessionManager.Passwords is set. It must run inside Middleware; the MFA
// enrolment and password change handlers are mounted outside it.
func (m *sessionManager) EnforcePolicy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		if st == nil {
			writeError(w, http.StatusUnauthorized, codeUnauthenticated)
			return
		}
		if st.policy.RequireMFA && !st.s.MFA {
			m.deny(r.Context(), r, st.p.Actor(), "mfa_required")
			writeError(w, http.StatusForbidden, codeMFARequired)
			return
		}
		if !st.s.Passkey && needsPasskey(&st.policy, st.p.Roles) {
			m.deny(r.Context(), r, st.p.Actor(), codePasskeyRequired)
			writeError(w, http.StatusForbidden, codePasskeyRequired)
			return
		}
		if m.Passwords != nil && !st.pwChangedAt.IsZero() {
			pp, err := m.Passwords.PasswordPolicyFor(r.Context(), st.s.TenantID)
			if err != nil {
				m.logError(r.Context(), "password policy", err)
				writeError(w, http.StatusServiceUnavailable, codeUnavailable)
				return
			}
			if pp.Expired(st.pwChangedAt, m.now()) {
				m.deny(r.Context(), r, st.p.Actor(), "password_expired")
				writeError(w, http.StatusForbidden, codePasswordExpired)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// RequireRecentAuth refuses (401 "reauthentication_required") a request
// whose session last authenticated longer ago than ReauthAfter (or the
// tenant's shorter limit). It must run inside Middleware. Guard routes get
// the same check with the Sensitive option.
func (m *sessionManager) RequireRecentAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		if st == nil {
			writeError(w, http.StatusUnauthorized, codeUnauthenticated)
			return
		}
		if !m.recentAuth(st) {
			m.deny(r.Context(), r, st.p.Actor(), "reauthentication_required")
			writeError(w, http.StatusUnauthorized, codeReauth)
			return
		}
		next.ServeHTTP(w, r)
	})
}
