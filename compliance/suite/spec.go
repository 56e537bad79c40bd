package suite

import (
	"context"
	"net/http"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
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
	// DenyOnly, when set, is why the suite may not send the route as a role
	// allowed to use it (it shreds, or changes other users): only its
	// refusals are checked, and the reason is printed.
	DenyOnly string
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

// Spec is what the checks know of the service under test besides its
// hooks: compliance.Service without the handler and callbacks (see its
// fields for their meaning).
type Spec struct {
	Routes           []Route
	Served           []auth.Route
	Roles            []string
	LoginPage        string
	Logout           Route
	Clock            Clock
	IdleTimeout      time.Duration
	AbsoluteTimeout  time.Duration
	LockoutThreshold int
	RequireMFA       bool
	Events           func(ctx context.Context) ([]audit.Event, error)
	VerifyAudit      func(ctx context.Context) error
	Logs             func() string
	CanaryRole       string
	EmergencyRole    string
	EmergencyRoute   Route
	Exclude          map[string]string
	// PasskeyRoles enables ControlPasskey (in-process only).
	PasskeyRoles []string
}
