package compliance

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/compliance/suite"
	"github.com/hipaakit/hipaakit/signing"
)

// Route, Session, Credentials and Clock are the suite's (package
// compliance/suite, which Check and "hipaakit check" share without linking
// package testing).
type (
	Route       = suite.Route
	Session     = suite.Session
	Credentials = suite.Credentials
	Clock       = suite.Clock
	RouteData   = suite.RouteData
)

// RoutesFrom builds Service.Routes from the routes the Guard serves; see
// suite.RoutesFrom.
func RoutesFrom(served []auth.Route, rbac *policy.RBAC, roles []string, data map[string]RouteData) ([]Route, error) {
	return suite.RoutesFrom(served, rbac, roles, data)
}

// Evidence says where Run writes its signed CI evidence.
type Evidence struct {
	Dir        string
	SigningKey *signing.PrivateKey // the deployment's signing key
}

// Service describes the service under test. Handler, Routes, Roles and Login
// are required; every other hook enables the checks named in its comment.
type Service struct {
	// Handler is the service's complete handler, middleware included.
	Handler http.Handler
	// Routes lists every protected route with the roles allowed on it
	// (RoutesFrom builds it from Served).
	Routes []Route
	// Served is every route the handler's Guard serves
	// (auth.Service.Routes, hipaakit.Deployment.Routes); access control
	// fails when one is not in Routes, or when Routes declares a pattern
	// not served.
	Served []auth.Route
	// Roles lists every role the service defines.
	Roles []string
	// Login creates a fresh user with role (completing MFA if the service
	// requires it) and returns the session it got.
	Login func(t testing.TB, role string) Session
	// LoginPage is the path of the service's sign-in page, for browser
	// pages that answer a request without a session with a redirect to it
	// instead of 401 (empty: only 401 counts as that refusal).
	LoginPage string
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
	// CanaryRole is the role SeedCanary, SeedFields and the read-backs run
	// as.
	CanaryRole string
	// SeedFields stores a distinct value (at least 5 characters, found
	// nowhere else) in each PHI field of a patient through the service's
	// API with session s, and returns the routes that read them back and
	// the value of each field. Each field a read returns must produce a
	// field-level audit event (164.312(b)).
	SeedFields func(t testing.TB, s Session) (reads []Route, values map[string]string)

	// Emergency requests break-glass access for session s with reason (an
	// empty reason must be refused) and returns the elevated session and
	// whether the service granted it. EmergencyRole is a role allowed to ask,
	// and EmergencyRoute a PHI route to use while elevated.
	Emergency      func(t testing.TB, s Session, reason string) (Session, bool)
	EmergencyRole  string
	EmergencyRoute Route

	// Evidence, when set, makes Run also write its results as junit.xml
	// and results.json into Evidence.Dir, each with a detached signature
	// by Evidence.SigningKey (package compliance/evidence), for the
	// auditor's copy of a CI run; go test's output stays the primary
	// interface.
	Evidence *Evidence

	// Exclude names controls (as in Controls) the service does not claim,
	// each with a justification; the suite prints it instead of running the
	// check. Use sparingly: an excluded control is not evidence.
	Exclude map[string]string
}
