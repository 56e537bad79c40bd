package auth

import (
	"errors"
	"net/http"
	"strings"
)

// DefaultCookieName is the session cookie's default name. The __Host- prefix
// makes browsers accept the cookie only when it is Secure, has Path=/ and no
// Domain, so a sibling subdomain cannot plant or overwrite it.
const DefaultCookieName = "__Host-hk_session"

// CookieConfig describes the session cookie. NewSessionManager sets the
// secure defaults given with each field; the cookie never carries an expiry
// (the server alone decides when a session ends).
type cookieConfig struct {
	// Name defaults to DefaultCookieName.
	Name string
	// Path defaults to "/" (required by the __Host- prefix).
	Path string
	// Domain defaults to empty: the cookie goes to the exact host only
	// (required by the __Host- prefix).
	Domain string
	// Secure defaults to true: the cookie is only sent over HTTPS. Turning
	// it off is only accepted for a name without a __Host- or __Secure- prefix.
	Secure bool
	// HTTPOnly defaults to true: scripts cannot read the cookie.
	HTTPOnly bool
	// SameSite defaults to http.SameSiteStrictMode.
	SameSite http.SameSite
}

// defaultCookie returns the secure defaults.
func defaultCookie() cookieConfig {
	return cookieConfig{Name: DefaultCookieName, Path: "/", Secure: true, HTTPOnly: true, SameSite: http.SameSiteStrictMode}
}

// errCookieConfig reports a cookie configuration that browsers would reject
// or that would weaken the session.
var errCookieConfig = errors.New("auth: invalid session cookie configuration")

func (c *cookieConfig) validate() error {
	if c.Name == "" || !validCookieName(c.Name) {
		return errCookieConfig
	}
	if strings.HasPrefix(c.Name, "__Host-") && (!c.Secure || c.Path != "/" || c.Domain != "") {
		return errCookieConfig
	}
	if strings.HasPrefix(c.Name, "__Secure-") && !c.Secure {
		return errCookieConfig
	}
	if c.SameSite == http.SameSiteNoneMode && !c.Secure {
		return errCookieConfig
	}
	return nil
}

func validCookieName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// cookie returns the session cookie carrying value, or the cookie that
// deletes it when value is empty.
func (c *cookieConfig) cookie(value string) *http.Cookie {
	k := &http.Cookie{Name: c.Name, Value: value, Path: c.Path, Domain: c.Domain,
		Secure: c.Secure, HttpOnly: c.HTTPOnly, SameSite: c.SameSite}
	if value == "" {
		k.MaxAge = -1
	}
	return k
}

// maxCookieHeader bounds how much of the Cookie headers is examined.
const maxCookieHeader = 16 << 10

// cookieValue returns the value of the cookie called name in the Cookie
// header lines, without allocating. It fails when the cookie is absent,
// appears more than once (a planted duplicate), is quoted or empty, or when
// the headers are oversized.
func cookieValue(lines []string, name string) (string, bool) {
	var val string
	found := false
	total := 0
	for _, line := range lines {
		total += len(line)
		if total > maxCookieHeader {
			return "", false
		}
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(k) != name {
				continue
			}
			if found {
				return "", false
			}
			found, val = true, strings.TrimSpace(v)
		}
	}
	if !found || val == "" {
		return "", false
	}
	return val, true
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(h http.Header) (string, bool) {
	v := h["Authorization"]
	if len(v) != 1 {
		return "", false
	}
	const p = "Bearer "
	if len(v[0]) <= len(p) || !strings.EqualFold(v[0][:len(p)], p) {
		return "", false
	}
	return v[0][len(p):], true
}

// tokenFromRequest returns the session token presented by r and whether it
// came from the cookie. A request that presents a token both ways is refused.
func (m *sessionManager) tokenFromRequest(r *http.Request) (tok string, viaCookie bool, ok bool) {
	ctok, cok := cookieValue(r.Header["Cookie"], m.Cookie.Name)
	if m.AllowBearer {
		if btok, bok := bearerToken(r.Header); bok {
			if cok {
				return "", false, false
			}
			return btok, false, true
		}
	}
	return ctok, true, cok
}
