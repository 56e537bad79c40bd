package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/clock"
)

// ErrNoEmergencyLog reports a Config without an emergency log. Break-glass
// accesses must survive a restart for their review (164.312(a)(2)(ii)).
var ErrNoEmergencyLog = errors.New("auth: Config.Emergencies is required: use the file log of package auth/filestore " +
	"(embedded deployments) or pgauth.NewEmergencyLog (PostgreSQL); the in-memory log of auth/memstore is for tests only")

// Service is the authentication and access-control service: credentials
// (login, second factor, recovery codes, lockout), sessions (automatic
// logoff, CSRF, break-glass), the RBAC guard and the HTTP endpoints, wired
// together over one Config. Build it with New. It is safe for concurrent
// use.
type Service struct {
	authn    *authenticator
	sessions *sessionManager
	guard    *rbacGuard
	handlers *endpoints
	passkeys *passkeys // nil when Config.Passkeys has no RPID
}

// New checks cfg, fills in its defaults and returns the service. The
// session middleware, the policy step and the login step read the one
// tenant policy source cfg.Tenants and the password policies of cfg (so a
// password MaxAge is enforced on every protected request).
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Users == nil:
		return nil, errors.New("auth: Config.Users is required")
	case cfg.Sessions == nil:
		return nil, errors.New("auth: Config.Sessions is required")
	case cfg.Audit == nil:
		return nil, errors.New("auth: Config.Audit is required")
	case cfg.Emergencies == nil:
		return nil, ErrNoEmergencyLog
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	sm := newSessionManager(cfg.Sessions, cfg.Users, cfg.Audit)
	if err := cfg.Session.apply(sm); err != nil {
		return nil, err
	}
	sm.Clock, sm.Logger = clock.OrSystem(cfg.Clock), cfg.Logger
	sm.Emergencies, sm.OnEmergency = cfg.Emergencies, cfg.OnEmergency
	if err := sm.validate(); err != nil {
		return nil, fmt.Errorf("%w (Config.Session)", err)
	}
	a, err := newAuthenticator(cfg, sm)
	if err != nil {
		return nil, err
	}
	rbac := cfg.RBAC
	if rbac == nil {
		if rbac, err = policy.NewRBAC(nil, nil); err != nil {
			return nil, err
		}
	}
	g := newGuard(sm, rbac)
	g.AuditGrants = cfg.AuditGrants
	pk, err := newPasskeys(cfg.Passkeys, a)
	if err != nil {
		return nil, err
	}
	return &Service{authn: a, sessions: sm, guard: g, handlers: newHandlers(sm, a, g), passkeys: pk}, nil
}

// --- HTTP: the middleware chain and the endpoints (see the package doc) ---

// Handle registers h for pattern (http.ServeMux syntax, for example
// "GET /patients/{id}"), reachable only with permission perm, behind the
// chain of Handler. Like http.ServeMux.Handle it panics on a programming
// error: a malformed or undeclared permission, a nil handler, or a pattern
// already registered (the pattern "/" is reserved for the deny-all
// fallback).
func (s *Service) Handle(pattern string, perm policy.Permission, h http.Handler, opts ...RouteOption) {
	s.guard.Handle(pattern, perm, h, opts...)
}

// HandleFunc registers f like Handle.
func (s *Service) HandleFunc(pattern string, perm policy.Permission, f func(http.ResponseWriter, *http.Request), opts ...RouteOption) {
	s.guard.HandleFunc(pattern, perm, f, opts...)
}

// Use appends middleware applied inside the authorisation check (step 4
// of the chain, for example audit.Middleware with Actor:
// ActorFromRequest) to the routes registered and the handlers protected
// after the call.
func (s *Service) Use(mw ...func(http.Handler) http.Handler) { s.guard.Use(mw...) }

// Handler serves the routes registered with Handle behind the whole chain:
// session → tenant policy → RBAC → the middleware of Use → the route.
// Anything that matches no route is refused (deny by default).
func (s *Service) Handler() http.Handler {
	return s.sessions.Middleware(s.sessions.EnforcePolicy(s.guard))
}

// Routes lists the routes registered with Handle, sorted by pattern, each
// with its permission and its PHI and Sensitive flags: every route Handler
// serves (anything else is refused). The endpoints of Mount and the
// handlers behind Session are not in the list; they serve no PHI.
func (s *Service) Routes() []Route { return s.guard.list() }

// Session puts h behind the session step only (no tenant policy, no
// RBAC): for pages a signed-in user reaches before meeting the policy,
// such as MFA enrolment or a password change.
func (s *Service) Session(h http.Handler) http.Handler { return s.sessions.Middleware(h) }

// Mount registers the sign-in and session endpoints (login, second factor,
// session, keepalive, logout, re-authentication, password change, TOTP
// enrolment, recovery codes, break-glass) on mux under prefix (for example
// "/auth"; "" for the root).
func (s *Service) Mount(mux *http.ServeMux, prefix string) {
	s.handlers.Mount(mux, prefix)
	if s.passkeys != nil {
		(&passkeyHandlers{svc: s, h: s.handlers}).mount(mux, strings.TrimSuffix(prefix, "/"))
	}
}

// AdminHandlers are the JSON endpoints of user administration and review,
// to register with Handle under paths and permissions of the
// application's choosing (each reads the user ID from the path wildcard
// {id}); every one is audited and applies the separation-of-duties rules.
type AdminHandlers struct {
	SetRoles        http.HandlerFunc // PUT {roles}
	SetStatus       http.HandlerFunc // PUT {status}
	Unlock          http.HandlerFunc // POST
	SetPassword     http.HandlerFunc // PUT {password}
	ResetMFA        http.HandlerFunc // POST
	ApproveRoles    http.HandlerFunc // POST: applies the pending role request
	RejectRoles     http.HandlerFunc // POST: discards the pending role request
	RoleRequests    http.HandlerFunc // GET: the tenant's pending role requests
	EmergencyReport http.HandlerFunc // GET ?from=&to= (RFC 3339): break-glass accesses
}

// AdminHandlers returns the administration endpoints.
func (s *Service) AdminHandlers() AdminHandlers {
	h := s.handlers
	return AdminHandlers{SetRoles: h.SetRoles, SetStatus: h.SetStatus, Unlock: h.Unlock, SetPassword: h.SetPassword,
		ResetMFA: h.ResetMFA, ApproveRoles: h.ApproveRoles, RejectRoles: h.RejectRoles, RoleRequests: h.RoleRequests,
		EmergencyReport: h.EmergencyReport}
}

// Can reports whether the request's principal holds perm under the policy
// in force (for decisions inside a handler). It records nothing.
func (s *Service) Can(r *http.Request, perm policy.Permission) bool { return s.guard.Can(r, perm) }

// SetRBAC replaces the policy (for example after reloading the policy
// file); it applies from the next request. It fails, changing nothing, when
// a registered route needs a permission the new policy does not declare.
func (s *Service) SetRBAC(r *policy.RBAC) error { return s.guard.SetRBAC(r) }

// --- Sessions ---

// Begin starts a session for u after a successful login; mfa says whether
// a second factor was verified. Any session the request already carried is
// ended first. Begin sets the cookie on w and returns the session and its
// token (needed by non-browser clients with SessionConfig.AllowBearer).
func (s *Service) Begin(ctx context.Context, w http.ResponseWriter, r *http.Request, u *User, mfa bool) (Session, string, error) {
	return s.sessions.Begin(ctx, w, r, u, mfa)
}

// Logout ends the request's session and clears its cookie.
func (s *Service) Logout(w http.ResponseWriter, r *http.Request) error {
	return s.sessions.Logout(w, r)
}

// Reauthenticated records a fresh authentication of the request's session
// (after the caller verified the password, and the second factor when mfa
// is true), rotates its token and returns the new CSRF token.
func (s *Service) Reauthenticated(w http.ResponseWriter, r *http.Request, mfa bool) (csrf string, err error) {
	return s.sessions.Reauthenticated(w, r, mfa)
}

// CSRFToken returns the CSRF token of the request's session (for pages the
// server renders), or "" when the request has no session.
func (s *Service) CSRFToken(r *http.Request) string { return s.sessions.CSRFToken(r) }

// CheckCrossOrigin refuses (refusal "csrf") a state-changing request from another
// origin, for handlers without a session such as an HTML login form.
func (s *Service) CheckCrossOrigin(r *http.Request) error { return s.sessions.CheckCrossOrigin(r) }

// RevokeUser ends every session of userID.
func (s *Service) RevokeUser(ctx context.Context, userID string) error {
	return s.sessions.RevokeUser(ctx, userID)
}

// Sweep ends the sessions whose limits have passed (and the break-glass
// accesses that ran out), recording their events; it returns how many
// sessions it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) { return s.sessions.Sweep(ctx) }

// SweepEvery runs Sweep every interval until ctx ends, logging failures,
// and returns ctx's error. Run it in its own goroutine.
func (s *Service) SweepEvery(ctx context.Context, interval time.Duration) error {
	return s.sessions.SweepEvery(ctx, interval)
}

// Elevate starts break-glass access for the request's session: role must
// be an emergency role the user is eligible for, reason is mandatory (no
// PHI) and d must not exceed the role's MaxDuration (zero means the
// maximum). It rotates the session token and returns the access record and
// the new CSRF token. Refusals are audited and match refusal "emergency_denied".
func (s *Service) Elevate(w http.ResponseWriter, r *http.Request, role, reason string, d time.Duration) (EmergencyAccess, string, error) {
	return s.guard.Elevate(w, r, role, reason, d)
}

// EndEmergency ends the request's break-glass access.
func (s *Service) EndEmergency(w http.ResponseWriter, r *http.Request) error {
	return s.sessions.EndEmergency(w, r)
}

// EmergencyReport lists the break-glass accesses that started in
// [from, to), oldest first, for review.
func (s *Service) EmergencyReport(ctx context.Context, from, to time.Time) ([]EmergencyAccess, error) {
	return s.sessions.EmergencyReport(ctx, from, to)
}

// --- Credentials and user administration ---

// Users returns the user store.
func (s *Service) Users() UserStore { return s.authn.Users() }

// Login checks one sign-in attempt (see the package documentation).
// Every failure is ErrInvalidCredentials; a throttled attempt is a
// *ThrottledError.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	return s.authn.Login(ctx, req)
}

// VerifySecondFactor completes a login that answered SecondFactorRequired.
func (s *Service) VerifySecondFactor(ctx context.Context, req SecondFactorRequest) (*LoginResult, error) {
	return s.authn.VerifySecondFactor(ctx, req)
}

// CreateUser creates an active user (audited user_created).
func (s *Service) CreateUser(ctx context.Context, n NewUser, actor audit.Actor, origin audit.Origin) (*User, error) {
	return s.authn.CreateUser(ctx, n, actor, origin)
}

// ChangePassword changes a user's own password after checking the current
// one, and ends the user's other sessions.
func (s *Service) ChangePassword(ctx context.Context, req ChangePasswordRequest) error {
	return s.authn.ChangePassword(ctx, req)
}

// SetPassword sets a user's password by an administrator (never the
// user's own) and ends the user's sessions.
func (s *Service) SetPassword(ctx context.Context, userID, password string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.SetPassword(ctx, userID, password, actor, origin)
}

// SetRoles replaces a user's roles (or, under ApprovePHIGrants, stores a
// RoleRequest and returns refusal "approval_pending").
func (s *Service) SetRoles(ctx context.Context, userID string, roles []string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.SetRoles(ctx, userID, roles, actor, origin)
}

// SetStatus activates, disables or removes a user; disabling and removal
// end every session of the user at once.
func (s *Service) SetStatus(ctx context.Context, userID string, status Status, actor audit.Actor, origin audit.Origin) error {
	return s.authn.SetStatus(ctx, userID, status, actor, origin)
}

// Unlock clears a user's lockout.
func (s *Service) Unlock(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.Unlock(ctx, userID, actor, origin)
}

// ApproveRoles applies the pending role request of userID; the requester
// cannot approve their own request (refusal "second_administrator_required").
func (s *Service) ApproveRoles(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.ApproveRoles(ctx, userID, actor, origin)
}

// RejectRoles discards the pending role request of userID (audited
// role_changed/"rejected"); the user's roles stay as they are.
func (s *Service) RejectRoles(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.RejectRoles(ctx, userID, actor, origin)
}

// RoleRequests returns the users of tenantID with a pending role request.
func (s *Service) RoleRequests(ctx context.Context, tenantID string) ([]*User, error) {
	return s.authn.RoleRequests(ctx, tenantID)
}

// EnrollTOTP starts a TOTP enrolment for userID and returns the secret
// (send it to the enrolling user only).
func (s *Service) EnrollTOTP(ctx context.Context, userID string, origin audit.Origin) (*totp.Enrollment, error) {
	return s.authn.EnrollTOTP(ctx, userID, origin)
}

// ConfirmTOTP activates the enrolment with a first valid code and returns
// the recovery codes, shown once; the user's other sessions (all but
// keepSessionID) end.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code, keepSessionID string, origin audit.Origin) ([]string, error) {
	return s.authn.ConfirmTOTP(ctx, userID, code, keepSessionID, origin)
}

// ImportTOTP activates an existing TOTP secret for userID (migration from
// another system) and returns new recovery codes.
func (s *Service) ImportTOTP(ctx context.Context, userID string, imp totp.Import, actor audit.Actor, origin audit.Origin) ([]string, error) {
	return s.authn.ImportTOTP(ctx, userID, imp, actor, origin)
}

// DisableTOTP removes the user's second factor (re-authenticate the user
// first); the other sessions end.
func (s *Service) DisableTOTP(ctx context.Context, userID, keepSessionID string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.DisableTOTP(ctx, userID, keepSessionID, actor, origin)
}

// AdminResetMFA removes a user's lost second factor, by an administrator,
// where the tenant policy allows policy.RecoveryAdminReset; it ends the user's
// sessions.
func (s *Service) AdminResetMFA(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	return s.authn.AdminResetMFA(ctx, userID, actor, origin)
}

// RegenerateRecoveryCodes replaces the user's recovery codes; the old ones
// stop working at once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) ([]string, error) {
	return s.authn.RegenerateRecoveryCodes(ctx, userID, actor, origin)
}
