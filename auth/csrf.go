package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
)

// CSRF protection. A state-changing request (any method but GET, HEAD,
// OPTIONS and TRACE) that authenticates with the session cookie must pass
// two checks:
//
//  1. Fetch metadata and origin: net/http's CrossOriginProtection refuses
//     requests whose Sec-Fetch-Site says cross-site, or whose Origin
//     header names another host, unless the origin was trusted with
//     SessionManager.TrustOrigin.
//  2. A per-session token in the X-CSRF-Token header (see
//     SessionManager.CSRFHeader) or, for HTML forms posted as
//     application/x-www-form-urlencoded, in the form field csrf_token
//     (SessionManager.CSRFFormField; such bodies are read up to 1 MiB by
//     the middleware and stay available in r.PostForm). The token is derived from the session
//     token with SHA-256, so it changes whenever the session token does and
//     cannot be turned back into the session token. Login, keep-alive,
//     re-authentication and elevation responses return it as "csrf_token";
//     SessionManager.CSRFToken gives it to server-rendered pages.
//
// Requests authenticated with an Authorization: Bearer header (only when
// AllowBearer is set) are not exposed to CSRF and skip both checks.

// defaultCSRFHeader is the header that carries the CSRF token.
const defaultCSRFHeader = "X-CSRF-Token"

// defaultCSRFFormField is the form field that carries the CSRF token of an
// HTML form.
const defaultCSRFFormField = "csrf_token"

// maxCSRFForm bounds a form body the middleware parses to find the token.
const maxCSRFForm = 1 << 20

// errCSRF reports a state-changing request that failed CSRF protection.
var errCSRF = refusal("csrf", "auth: cross-site request refused")

const csrfPrefix = "hkc1_"

var csrfLen = len(csrfPrefix) + base64.RawURLEncoding.EncodedLen(sha256.Size)

// appendCSRF appends the CSRF token belonging to session token tok to dst.
func appendCSRF(dst []byte, tok string) []byte {
	h := sha256.New()
	h.Write([]byte("hipaakit/csrf/v1\x00"))
	h.Write([]byte(tok))
	var sum [sha256.Size]byte
	dst = append(dst, csrfPrefix...)
	return base64.RawURLEncoding.AppendEncode(dst, h.Sum(sum[:0]))
}

// csrfFor returns the CSRF token for session token tok.
func csrfFor(tok string) string { return string(appendCSRF(nil, tok)) }

// safeMethod reports whether m is a method that must not change state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// CheckCrossOrigin applies the first CSRF check (fetch metadata and
// origin) to r and returns refusal "csrf" when r is a state-changing request from
// another origin: Sec-Fetch-Site cross-site or same-site, or an Origin
// header naming another host, unless that origin was trusted with
// TrustOrigin. Safe methods always pass. The session middleware applies it
// to every cookie-authenticated request and the login and logout handlers
// to theirs; call it from any other state-changing handler that runs
// without a session, such as an HTML login form.
func (m *sessionManager) CheckCrossOrigin(r *http.Request) error {
	if err := m.cop.Check(r); err != nil {
		return errCSRF
	}
	return nil
}

// checkCSRF applies both CSRF checks to a cookie-authenticated request.
func (m *sessionManager) checkCSRF(w http.ResponseWriter, r *http.Request, tok string) error {
	if err := m.CheckCrossOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(m.CSRFHeader)
	if got == "" && m.CSRFFormField != "" && r.Body != nil {
		if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && ct == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(w, r.Body, maxCSRFForm)
			if err := r.ParseForm(); err != nil {
				return errCSRF
			}
			got = r.PostForm.Get(m.CSRFFormField)
		}
	}
	if len(got) != csrfLen {
		return errCSRF
	}
	var buf [64]byte
	want := appendCSRF(buf[:0], tok)
	if subtle.ConstantTimeCompare(want, []byte(got)) != 1 {
		return errCSRF
	}
	return nil
}

// TrustOrigin allows cross-origin state-changing requests from origin
// ("scheme://host[:port]"), for example a separate front-end host. They must
// still carry the CSRF token.
func (m *sessionManager) TrustOrigin(origin string) error {
	if err := m.cop.AddTrustedOrigin(origin); err != nil {
		return errors.New("auth: invalid trusted origin")
	}
	return nil
}

// CSRFToken returns the CSRF token of the request's session (for pages the
// server renders), or "" when the request has no session.
func (m *sessionManager) CSRFToken(r *http.Request) string {
	st := stateFrom(r.Context())
	if st == nil {
		return ""
	}
	return csrfFor(st.token)
}
