package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
)

// Default session limits (ARCHITECTURE.md, "Defaults").
const (
	defaultIdleTimeout     = 15 * time.Minute
	defaultAbsoluteTimeout = 12 * time.Hour
	defaultReauthAfter     = 15 * time.Minute
	defaultTouchInterval   = 30 * time.Second
)

// SessionManager creates, validates, rotates and ends sessions. Build it with
// NewSessionManager, which sets every field to its secure default; the
// exported fields may then be tuned before first use and must not change
// afterwards. It is safe for concurrent use.
type sessionManager struct {
	// IdleTimeout ends a session after this long without activity
	// (default 15 minutes). A tenant policy can only shorten it.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, whatever the
	// activity (default 12 hours). A tenant policy can only shorten it.
	AbsoluteTimeout time.Duration
	// ReauthAfter is how old the last authentication may be for routes
	// marked Sensitive (default 15 minutes).
	ReauthAfter time.Duration
	// TouchInterval is how often activity is written to the store (default
	// 30 seconds, and never more than a tenth of the idle limit). Activity
	// within the interval is not recorded, so a session may end up to
	// TouchInterval before IdleTimeout of inactivity, never after.
	TouchInterval time.Duration
	// Cookie describes the session cookie (secure defaults; see CookieConfig).
	Cookie cookieConfig
	// CSRFHeader names the header carrying the CSRF token (default X-CSRF-Token).
	CSRFHeader string
	// CSRFFormField names the form field that carries the CSRF token in
	// HTML forms (default csrf_token); empty accepts the header only.
	CSRFFormField string
	// AllowBearer also accepts the token in an "Authorization: Bearer"
	// header, for non-browser clients (default false).
	AllowBearer bool
	// Clock is read for every timeout decision (default clock.System).
	// Deadlines are compared on the server only, on a time line that never
	// runs backwards: a backward step of the clock cannot extend a session
	// in any store, and a forward step ends sessions as it would without
	// the step (see session_clock.go). Keep the servers' clocks
	// synchronised (NTP) all the same.
	Clock clock.Clock
	// Policies supplies tenant security policies (default: none, so the
	// manager's limits apply and MFA is not required). A manager given to
	// an Authenticator (Config.Sessions) reads Config.Tenants instead and
	// needs no Policies; set to a different source, it is refused
	// (ErrPolicySourceConflict, see NewAuthenticator).
	Policies policy.Source
	// Passwords, when set, gives the password policy of each tenant so that
	// EnforcePolicy refuses (403 "password_expired") every route but the
	// password change while a user's password is older than the policy's
	// MaxAge. *Authenticator satisfies it.
	Passwords passwordPolicySource
	// Emergencies records break-glass accesses for review (default: an
	// in-memory log; set a durable one in production).
	Emergencies EmergencyLog
	// OnEmergency, when set, is called when break-glass access starts and
	// when it ends, for alerting. It must not block for long.
	OnEmergency func(ctx context.Context, a EmergencyAlert)
	// ClientIP extracts the client address recorded in audit events
	// (default audit.PeerIP, the TCP peer; forwarding headers are never
	// trusted unless you install an extractor such as audit.TrustedProxies).
	ClientIP audit.ClientIPFunc
	// Channel is recorded in audit events (default audit.ChannelWeb).
	Channel audit.Channel
	// Logger receives operational errors (store or audit failures); it
	// never receives tokens. Default: slog.Default().
	Logger *slog.Logger

	store SessionStore
	users UserStore
	audit audit.Writer
	cop   *http.CrossOriginProtection
	mono  monoClock
	// linked is Config.Tenants of the Authenticator this manager serves
	// (set by NewAuthenticator; see linkTenantPolicies).
	linked atomic.Pointer[policy.Source]
}

// PasswordPolicySource gives the password policy of a tenant.
type passwordPolicySource interface {
	PasswordPolicyFor(ctx context.Context, tenantID string) (password.Policy, error)
}

// newSessionManager returns a manager that keeps sessions in store, reads
// each request's user (status and roles) from users, and records session
// events to w. Every field has its secure default.
func newSessionManager(store SessionStore, users UserStore, w audit.Writer) *sessionManager {
	return &sessionManager{
		IdleTimeout:     defaultIdleTimeout,
		AbsoluteTimeout: defaultAbsoluteTimeout,
		ReauthAfter:     defaultReauthAfter,
		TouchInterval:   defaultTouchInterval,
		Cookie:          defaultCookie(),
		CSRFHeader:      defaultCSRFHeader,
		CSRFFormField:   defaultCSRFFormField,
		Clock:           clock.System,
		Channel:         audit.ChannelWeb,
		Logger:          slog.Default(),
		store:           store,
		users:           users,
		audit:           w,
		cop:             http.NewCrossOriginProtection(),
	}
}

// errManagerConfig reports unusable SessionManager settings.
var errManagerConfig = errors.New("auth: invalid session manager configuration")

// validate checks the tunable fields; Begin refuses to start sessions
// under a configuration that would weaken them.
func (m *sessionManager) validate() error {
	if err := m.Cookie.validate(); err != nil {
		return err
	}
	if m.IdleTimeout <= 0 || m.AbsoluteTimeout <= 0 || m.ReauthAfter <= 0 || m.TouchInterval < 0 || m.CSRFHeader == "" {
		return errManagerConfig
	}
	if m.store == nil || m.users == nil || m.audit == nil || m.Emergencies == nil {
		return errManagerConfig
	}
	return nil
}

// touchInterval is TouchInterval, but never more than a tenth of the idle
// limit, so that recorded activity always keeps an active session alive.
func (m *sessionManager) touchInterval(idle time.Duration) time.Duration {
	if t := idle / 10; m.TouchInterval > t {
		return t
	}
	return m.TouchInterval
}

// Store returns the session store.
func (m *sessionManager) Store() SessionStore { return m.store }

// now returns the manager's time: the clock's, but never running backwards
// (see monoClock).
func (m *sessionManager) now() time.Time { return m.mono.at(clock.OrSystem(m.Clock).Now()) }

func (m *sessionManager) policy(ctx context.Context, tenantID string) (policy.Tenant, error) {
	src, err := m.policySource()
	if err != nil {
		return policy.Tenant{}, err
	}
	if src == nil {
		return policy.Tenant{TenantID: tenantID}, nil
	}
	p, err := src.TenantPolicy(ctx, tenantID)
	if err != nil {
		return policy.Tenant{}, fmt.Errorf("auth: tenant policy: %w", err)
	}
	return p, nil
}

// limits returns the idle and absolute limits for s under policy p.
func (m *sessionManager) limits(s *Session, p *policy.Tenant) (idle, abs time.Duration) {
	return capDuration(s.IdleTimeout, p.IdleTimeout), capDuration(s.AbsoluteTimeout, p.AbsoluteTimeout)
}

// Begin starts a session for u after a successful login; mfa says whether a
// second factor was verified. Any session the request already carried is
// ended first (a fresh token at every login: no fixation). Begin sets the
// cookie on w and returns the session and its token; the token is also
// needed by non-browser clients when AllowBearer is set. u must be active.
func (m *sessionManager) Begin(ctx context.Context, w http.ResponseWriter, r *http.Request, u *User, mfa bool) (Session, string, error) {
	return m.begin(ctx, w, r, u, mfa, false)
}

// begin is Begin; passkey records that the login used a passkey.
func (m *sessionManager) begin(ctx context.Context, w http.ResponseWriter, r *http.Request, u *User, mfa, passkey bool) (Session, string, error) {
	if err := m.validate(); err != nil {
		return Session{}, "", err
	}
	if !u.Active() {
		return Session{}, "", errUserInactive
	}
	if r != nil {
		if tok, _, ok := m.tokenFromRequest(r); ok {
			if h, err := parseToken(tok); err == nil {
				if old, err := m.store.SessionByTokenHash(ctx, h); err == nil {
					m.end(ctx, r, &old, audit.ActionLogout, "replaced_by_login")
				}
			}
		}
	}
	p, err := m.policy(ctx, u.TenantID)
	if err != nil {
		return Session{}, "", err
	}
	tok, h, err := newToken()
	if err != nil {
		return Session{}, "", err
	}
	id, err := newSessionID()
	if err != nil {
		return Session{}, "", err
	}
	now := m.now()
	s := Session{
		ID: id, TokenHash: h, UserID: u.ID, TenantID: u.TenantID,
		CreatedAt: now, LastSeenAt: now, AuthenticatedAt: now,
		IdleTimeout:     capDuration(m.IdleTimeout, p.IdleTimeout),
		AbsoluteTimeout: capDuration(m.AbsoluteTimeout, p.AbsoluteTimeout),
		MFA:             mfa || passkey,
		Passkey:         passkey,
	}
	s.ExpiresAt = s.deadline(s.IdleTimeout, s.AbsoluteTimeout)
	if err := m.store.CreateSession(ctx, s); err != nil {
		return Session{}, "", fmt.Errorf("auth: create session: %w", err)
	}
	if err := m.capSessions(ctx, r, &p, &s); err != nil {
		return Session{}, "", err
	}
	if w != nil {
		http.SetCookie(w, m.Cookie.cookie(tok))
	}
	return s, tok, nil
}

// load validates the session a request presents and returns the request
// state. Every reason to refuse the token is ErrInvalidSession; other errors
// are failures of the store, the user store or the policy source.
func (m *sessionManager) load(ctx context.Context, r *http.Request) (*requestState, error) {
	tok, viaCookie, ok := m.tokenFromRequest(r)
	if !ok {
		return nil, ErrInvalidSession
	}
	h, err := parseToken(tok)
	if err != nil {
		return nil, ErrInvalidSession
	}
	st := &requestState{token: tok, viaCookie: viaCookie}
	s := &st.s
	if *s, err = m.store.SessionByTokenHash(ctx, h); err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return nil, ErrInvalidSession
		}
		return nil, fmt.Errorf("auth: load session: %w", err)
	}
	if st.policy, err = m.policy(ctx, s.TenantID); err != nil {
		return nil, err
	}
	now := sessionNow(m.now(), s)
	idle, abs := m.limits(s, &st.policy)
	if !now.Before(s.CreatedAt.Add(abs)) {
		m.end(ctx, r, s, audit.ActionSessionTimeout, "absolute_timeout")
		return nil, ErrInvalidSession
	}
	if !now.Before(s.LastSeenAt.Add(idle)) {
		m.end(ctx, r, s, audit.ActionSessionTimeout, "idle_timeout")
		return nil, ErrInvalidSession
	}
	u, err := m.users.Get(ctx, s.UserID)
	switch {
	case errors.Is(err, ErrUserNotFound) || (err == nil && (!u.Active() || u.TenantID != s.TenantID)):
		m.end(ctx, r, s, audit.ActionLogout, "user_inactive")
		return nil, ErrInvalidSession
	case err != nil:
		return nil, fmt.Errorf("auth: load user: %w", err)
	}
	if g := s.Emergency; g != nil {
		ended, err := m.emergencyEnded(ctx, g)
		switch {
		case err != nil:
			return nil, err
		case ended:
			// The access ended already, but a request that had loaded the
			// session before the end wrote the grant back with its activity
			// update: the log is authoritative, drop the grant again.
			if err := m.dropGrant(ctx, s); err != nil {
				return nil, err
			}
		case !now.Before(g.Until):
			if err := m.endEmergency(ctx, r, s, "expired"); err != nil {
				return nil, err
			}
		}
	}
	if now.Sub(s.LastSeenAt) >= m.touchInterval(idle) {
		t := *s
		t.LastSeenAt = now
		t.ExpiresAt = t.deadline(idle, abs)
		if err := m.store.UpdateSession(ctx, h, t); err != nil {
			if errors.Is(err, ErrSessionNotFound) {
				return nil, ErrInvalidSession // logged out or rotated meanwhile
			}
			return nil, fmt.Errorf("auth: touch session: %w", err)
		}
		*s = t
	}
	st.pwChangedAt = u.PasswordChangedAt
	st.p = Principal{UserID: s.UserID, TenantID: s.TenantID, SessionID: s.ID, Roles: u.Roles,
		MFA: s.MFA, AuthenticatedAt: s.AuthenticatedAt, Emergency: s.Emergency, Admin: u.Admin}
	if len(u.Roles) == 1 {
		st.p.roleLabel = u.Roles[0]
	}
	if g := s.Emergency; g != nil {
		st.p.Roles = append(u.Roles[:len(u.Roles):len(u.Roles)], g.Role)
	}
	return st, nil
}

// end deletes s and records why. A session that is already gone is not an
// error: another request ended it first, and that request recorded it.
func (m *sessionManager) end(ctx context.Context, r *http.Request, s *Session, action audit.Action, reason string) bool {
	err := m.store.DeleteSession(ctx, s.ID)
	if errors.Is(err, ErrSessionNotFound) {
		return false
	}
	if err != nil {
		m.logError(ctx, "delete session", err)
		return false
	}
	if s.Emergency != nil {
		m.finishEmergency(ctx, s, reason)
	}
	m.record(ctx, r, sessionActor(s), action, audit.OutcomeSuccess, reason)
	return true
}

// sessionActor is the audit actor of a session without a request.
func sessionActor(s *Session) audit.Actor {
	a := audit.Actor{UserID: s.UserID, TenantID: s.TenantID, SessionID: s.ID}
	if g := s.Emergency; g != nil {
		a.Role, a.Emergency, a.EmergencyReason = g.Role, true, g.Reason
	}
	return a
}

// event builds an audit event about r (which may be nil).
func (m *sessionManager) event(r *http.Request, actor audit.Actor, action audit.Action, outcome audit.Outcome, reason string) audit.Event {
	return audit.Event{Time: m.now().UTC(), Action: action, Outcome: outcome, Reason: reason, Actor: actor, Origin: m.origin(r)}
}

// origin describes how r arrived (channel, client IP from the configured
// extractor, user agent, matched route pattern); a nil r is the system.
func (m *sessionManager) origin(r *http.Request) audit.Origin {
	if r == nil {
		return audit.Origin{Channel: audit.ChannelSystem}
	}
	return audit.Origin{Channel: m.Channel, ClientIP: m.clientIP(r), UserAgent: truncate(r.UserAgent(), 256), Route: r.Pattern}
}

// record writes an audit event and reports whether it was stored; failures
// go to the logger.
func (m *sessionManager) record(ctx context.Context, r *http.Request, actor audit.Actor, action audit.Action, outcome audit.Outcome, reason string) error {
	err := m.audit.Write(ctx, m.event(r, actor, action, outcome, reason))
	if err != nil {
		m.logError(ctx, "audit write", err)
	}
	return err
}

func (m *sessionManager) logError(ctx context.Context, what string, err error) {
	if m.Logger != nil {
		m.Logger.ErrorContext(ctx, "auth: "+what+" failed", slog.String("error", err.Error()))
	}
}

func (m *sessionManager) clientIP(r *http.Request) string {
	if m.ClientIP != nil {
		return m.ClientIP(r)
	}
	return audit.PeerIP(r)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence and
// replaces invalid UTF-8.
func truncate(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	return s
}

// Logout ends the request's session, clears the cookie and records the
// logout. A request without a valid session just gets the cookie cleared.
func (m *sessionManager) Logout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if w != nil {
		http.SetCookie(w, m.Cookie.cookie(""))
	}
	tok, _, ok := m.tokenFromRequest(r)
	if !ok {
		return ErrInvalidSession
	}
	h, err := parseToken(tok)
	if err != nil {
		return ErrInvalidSession
	}
	s, err := m.store.SessionByTokenHash(ctx, h)
	if err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return ErrInvalidSession
		}
		return fmt.Errorf("auth: logout: %w", err)
	}
	if !m.end(ctx, r, &s, audit.ActionLogout, "logout") {
		return ErrInvalidSession
	}
	return nil
}

// RevokeUser deletes every session of userID at once (the user was
// disabled or removed) and records one logout per session. It implements
// SessionRevoker.
func (m *sessionManager) RevokeUser(ctx context.Context, userID string) error {
	_, err := m.revoke(ctx, userID, "", "user_revoked")
	return err
}

// RevokeOtherSessions deletes every session of userID except keepSessionID
// (after a password or second-factor change) and returns how many it ended.
func (m *sessionManager) RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) (int, error) {
	return m.revoke(ctx, userID, keepSessionID, "credentials_changed")
}

func (m *sessionManager) revoke(ctx context.Context, userID, except, reason string) (int, error) {
	gone, err := m.store.DeleteUserSessions(ctx, userID, except)
	for i := range gone {
		s := &gone[i]
		if s.Emergency != nil {
			m.finishEmergency(ctx, s, reason)
		}
		m.record(ctx, nil, sessionActor(s), audit.ActionLogout, audit.OutcomeSuccess, reason)
	}
	if err != nil {
		return len(gone), fmt.Errorf("auth: revoke sessions: %w", err)
	}
	return len(gone), nil
}

// Sweep deletes every session that has expired, recording a
// session_timeout event for each, and returns how many it ended. Expired
// sessions are refused at their next request anyway; run Sweep periodically
// so that abandoned sessions are deleted and their timeouts recorded.
func (m *sessionManager) Sweep(ctx context.Context) (int, error) {
	n := 0
	for {
		now := m.now()
		batch, err := m.store.ExpiredSessions(ctx, now, 256)
		if err != nil {
			return n, fmt.Errorf("auth: sweep: %w", err)
		}
		progressed := false
		for i := range batch {
			s := &batch[i]
			reason := "idle_timeout"
			if !now.Before(s.CreatedAt.Add(s.AbsoluteTimeout)) {
				reason = "absolute_timeout"
			}
			if m.end(ctx, nil, s, audit.ActionSessionTimeout, reason) {
				n++
				progressed = true
			}
		}
		if len(batch) < 256 || !progressed {
			return n, ctx.Err()
		}
	}
}

// SweepEvery runs Sweep every interval until ctx ends, logging failures,
// and returns ctx's error. Run it in its own goroutine.
func (m *sessionManager) SweepEvery(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errManagerConfig
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.logError(ctx, "session sweep", err)
			}
		}
	}
}

// rotate gives the request's session a new token (privilege change or
// re-authentication), applies change to it, and sets the new cookie. The
// old token stops working at once.
func (m *sessionManager) rotate(ctx context.Context, w http.ResponseWriter, st *requestState, change func(*Session)) (string, error) {
	tok, h, err := newToken()
	if err != nil {
		return "", err
	}
	old := st.s.TokenHash
	s := st.s.Clone()
	s.TokenHash = h
	change(&s)
	if err := m.store.UpdateSession(ctx, old, s); err != nil {
		if errors.Is(err, ErrSessionNotFound) {
			return "", ErrInvalidSession
		}
		return "", fmt.Errorf("auth: rotate session: %w", err)
	}
	st.s, st.token = s, tok
	st.p.SessionID, st.p.AuthenticatedAt, st.p.MFA, st.p.Emergency = s.ID, s.AuthenticatedAt, s.MFA, s.Emergency
	if w != nil {
		http.SetCookie(w, m.Cookie.cookie(tok))
	}
	return tok, nil
}

// Reauthenticated records that the user of the request's session has just
// proved who they are again (mfa: with a second factor); sensitive routes
// accept the session for ReauthAfter from now. The token is rotated; the
// new CSRF token is returned.
func (m *sessionManager) Reauthenticated(w http.ResponseWriter, r *http.Request, mfa bool) (csrf string, err error) {
	st := stateFrom(r.Context())
	if st == nil {
		return "", ErrInvalidSession
	}
	now := sessionNow(m.now(), &st.s)
	tok, err := m.rotate(r.Context(), w, st, func(s *Session) {
		s.AuthenticatedAt, s.LastSeenAt = now, now
		s.MFA = s.MFA || mfa
		s.ExpiresAt = s.deadline(m.limits(s, &st.policy))
	})
	if err != nil {
		return "", err
	}
	return csrfFor(tok), nil
}

// recentAuth reports whether the request's authentication is recent enough
// for a sensitive action.
func (m *sessionManager) recentAuth(st *requestState) bool {
	max := capDuration(m.ReauthAfter, st.policy.ReauthAfter)
	return m.now().Sub(st.s.AuthenticatedAt) < max
}
