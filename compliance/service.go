package compliance

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Route is one protected route of the service under test.
type Route struct {
	// Method and Path form the request the suite sends; Path is concrete
	// (for example "/patients/p-1"), never a pattern.
	Method string
	Path   string
	// Pattern names the route in failure messages, e.g. "GET /patients/{id}".
	// It defaults to Method + " " + Path.
	Pattern string
	// Body is sent with the request (as JSON) when set.
	Body string
	// Roles lists the roles allowed to use the route; every other role of
	// Service.Roles must be refused with 403.
	Roles []string
	// PHI marks routes that read or write protected health information: each
	// successful use must produce an audit event and its response must carry
	// Cache-Control: no-store.
	PHI bool
	// Subject is the patient the route touches, when it touches one; audit
	// events for the route must name it.
	Subject string
}

func (r Route) name() string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.Path
}

// Session is what a logged-in client presents: cookies and headers (for
// example a CSRF token) that the suite adds to its requests.
type Session struct {
	UserID  string
	Cookies []*http.Cookie
	Header  http.Header
}

func (s Session) apply(r *http.Request) {
	for _, c := range s.Cookies {
		r.AddCookie(c)
	}
	for k, vs := range s.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
}

// Clock is the service's controllable clock: a *clock.Fake, or any type with
// these methods that the service reads its time from.
type Clock interface {
	Now() time.Time
	Advance(d time.Duration) time.Time
}

// Credentials are a user's login secrets, for the lockout check.
type Credentials struct {
	Username, Password string
}

// Service describes the service under test. Handler, Routes, Roles and Login
// are required; every other hook enables the checks named in its comment.
type Service struct {
	// Handler is the service's complete handler, middleware included.
	Handler http.Handler
	// Routes lists every protected route with the roles allowed on it.
	Routes []Route
	// Roles lists every role the service defines.
	Roles []string
	// Login creates a fresh user with role (completing MFA if the service
	// requires it) and returns the session it got.
	Login func(t testing.TB, role string) Session
	// Logout is the request that ends the current session (auto-logoff and
	// session checks). Its Roles and PHI fields are ignored.
	Logout Route

	// Clock, IdleTimeout and AbsoluteTimeout drive 164.312(a)(2)(iii)
	// automatic logoff.
	Clock           Clock
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration

	// ChangePassword changes the password of the session's user through the
	// service, using a session of its own; afterwards s must be refused.
	ChangePassword func(t testing.TB, s Session)

	// TOTP starts a login for a fresh MFA user up to the second factor and
	// returns the user's TOTP secret (base32) and a function that submits a
	// code and reports whether the service accepted it (164.312(d)).
	TOTP func(t testing.TB) (secret string, submit func(code string) bool)

	// NewCredentials creates a fresh user and returns its credentials;
	// TryLogin attempts a password login and reports whether it succeeded.
	// LockoutThreshold is the number of consecutive failures after which the
	// account must refuse even the right password (164.312(d)).
	NewCredentials   func(t testing.TB) Credentials
	TryLogin         func(t testing.TB, c Credentials) bool
	LockoutThreshold int

	// RequireMFA says the service's tenant requires a second factor;
	// PasswordLogin creates a fresh user with role, completes only the
	// password step (no second factor) and returns the session it got. With
	// both, every route in Routes must refuse that session with 403
	// (164.312(d) person or entity authentication). A service whose tenants
	// do not require MFA lists that control in Exclude with its
	// justification.
	RequireMFA    bool
	PasswordLogin func(t testing.TB, role string) Session

	// PasskeyRoles lists the roles whose sessions the service requires to
	// be established with a passkey (a phishing-resistant factor; with
	// hipaakit, policy.Tenant.PasskeyRoles); NonPasskeyLogin creates a
	// fresh user with role, logs in with every factor but a passkey (for
	// example password and TOTP) and returns the session. With PasskeyRoles
	// set, ControlPasskey checks that every route refuses that session
	// with 403.
	PasskeyRoles    []string
	NonPasskeyLogin func(t testing.TB, role string) Session

	// Events returns every audit event recorded so far; VerifyAudit checks
	// the audit trail's integrity (164.312(b), 164.312(c)).
	Events      func(ctx context.Context) ([]audit.Event, error)
	VerifyAudit func(ctx context.Context) error

	// Logs returns everything the service has logged so far, for the canary
	// check.
	Logs func() string
	// SeedCanary stores canary as PHI of a patient through the service's API
	// with session s, and returns the routes that read it back.
	SeedCanary func(t testing.TB, s Session, canary string) []Route
	// CanaryRole is the role SeedCanary and the read-back run as.
	CanaryRole string

	// Emergency requests break-glass access for session s with reason (an
	// empty reason must be refused) and returns the elevated session and
	// whether the service granted it. EmergencyRole is a role allowed to ask,
	// and EmergencyRoute a PHI route to use while elevated.
	Emergency      func(t testing.TB, s Session, reason string) (Session, bool)
	EmergencyRole  string
	EmergencyRoute Route

	// Exclude names controls (as in Controls) the service does not claim,
	// each with a justification; the suite prints it instead of running the
	// check. Use sparingly: an excluded control is not evidence.
	Exclude map[string]string
}
