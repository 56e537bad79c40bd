package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
	"github.com/hipaakit/hipaakit/clock"
)

// Config configures a Service (see New). Users, Sessions, Emergencies and
// Audit are required; every other zero field takes the secure default its
// comment gives.
type Config struct {
	// Users stores the identities (required): auth/filestore for the
	// embedded default, pgauth on PostgreSQL, auth/memstore in tests.
	Users UserStore
	// Sessions stores the server-side sessions (required), from the same
	// family of stores as Users.
	Sessions SessionStore
	// Emergencies records break-glass accesses durably for review
	// (required): a file log (auth/filestore) or pgauth.EmergencyLog. New
	// refuses a nil log; the in-memory log of auth/memstore is for tests
	// and must be chosen explicitly.
	Emergencies EmergencyLog
	// Audit records every login attempt, lockout, credential change,
	// session event and access decision (required). When an event cannot
	// be written, the operation fails: no audit, no access.
	Audit audit.Writer
	// Attempts counts the attempts of client keys and of names that match
	// no usable account (default an in-memory store of Lockout.MaxTracked
	// keys, which suits one process). Replicas share pgauth.AttemptStore; a
	// deployment on the file stores uses the file attempt store beside them
	// so that unknown names cost the same durable write as known accounts.
	Attempts AttemptStore
	// RBAC is the role and permission policy the guard enforces (default:
	// no permissions, so no route can be registered and every request to
	// the guard is denied).
	RBAC *policy.RBAC
	// Tenants gives each tenant's security policy (MFA requirement, session
	// limits, recovery methods, password policy name, break-glass limits).
	// It is the one source of tenant policy: the login step, the session
	// middleware and the policy step all read it. Nil means the defaults.
	Tenants policy.Source
	// Passkeys configures WebAuthn passkeys, as a second factor and for
	// passwordless login (zero: disabled; see passkey.Config).
	Passkeys passkey.Config
	// Sealer seals TOTP secrets at rest (see PHISealer, NewKeySealer).
	// Without it TOTP enrolment fails, and New refuses tenant policies that
	// require MFA.
	Sealer SecretSealer
	// Argon2 are the password-hashing parameters of new hashes (zero:
	// password.DefaultArgon2Params(), m=19 MiB, t=2, p=1). Stored hashes keep their
	// own parameters and are re-hashed at the next login when they differ.
	Argon2 password.Argon2Params
	// MaxConcurrentHashes bounds the password hashes computed at once, and
	// so the memory logins take (0: runtime.GOMAXPROCS(0)).
	MaxConcurrentHashes int
	// Passwords is the default password policy (default
	// password.DefaultPolicy()). Its MaxAge, and that of the policy a tenant
	// selects, is enforced at login and on every protected request (403
	// "password_expired").
	Passwords password.Policy
	// PasswordPolicies are further named policies that a policy.Tenant
	// selects by name (policy.Tenant.PasswordPolicy).
	PasswordPolicies map[string]password.Policy
	// AdminRoles are the administrative roles. Only an identity whose Admin
	// flag is set may hold them, and such an identity holds nothing else,
	// so that administrative privileges live in separate identities.
	// CreateUser and SetRoles refuse other combinations with ErrInvalidUser.
	// Empty means no role is administrative.
	AdminRoles []string
	// PHIRoles are the roles that read PHI. When AdminRoles is set, an
	// administrative identity never holds one (so an administrator cannot
	// grant itself access to PHI); a tenant policy with ApprovePHIGrants
	// sends every grant of one to a second administrator (see RoleRequest).
	// New refuses a role that is in both lists.
	PHIRoles []string
	// TOTP configures the second factor (defaults in totp.Config).
	TOTP totp.Config
	// Lockout configures throttling and lockout (defaults in LockoutConfig).
	Lockout LockoutConfig
	// ChallengeKey is the HMAC-SHA256 key (at least 32 bytes) that signs
	// the Challenge between the password and the second-factor step. All
	// instances behind one login endpoint must share it; when empty, each
	// Service makes a random key, which suits a single instance.
	// hipaakit.Open sets it to the deployment's stored key, shared by every
	// replica.
	ChallengeKey []byte
	// Session configures session limits, the cookie and CSRF protection
	// (defaults in SessionConfig).
	Session SessionConfig
	// OnEmergency, when set, is called when break-glass access starts and
	// when it ends, for alerting. It must not block for long.
	OnEmergency func(ctx context.Context, a EmergencyAlert)
	// AuditGrants records every granted access decision too (action
	// permission_granted). When that record cannot be stored the request
	// is refused with 503. Denials are always audited.
	AuditGrants bool
	// Clock is the time source of every decision (nil: clock.System).
	Clock clock.Clock
	// Logger receives operational errors; never credentials or tokens
	// (nil: slog.Default()).
	Logger *slog.Logger

	// hasher, when set (by this package's tests), replaces the one New
	// builds from Argon2 and MaxConcurrentHashes.
	hasher passwordHasher
}

// passwordHasher is what the credential code needs of a *password.Hasher;
// tests wrap one to count or hold the hashes a login costs.
type passwordHasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, pw, encoded string) (ok, rehash bool, err error)
	Params() password.Argon2Params
}

// SessionConfig configures sessions. Every zero field means the secure
// default given on it; a tenant policy can only shorten the limits.
type SessionConfig struct {
	// IdleTimeout ends a session after this long without activity
	// (default 15 minutes).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, whatever the
	// activity (default 12 hours).
	AbsoluteTimeout time.Duration
	// ReauthAfter is how old the last authentication may be for routes
	// marked Sensitive (default 15 minutes).
	ReauthAfter time.Duration
	// TouchInterval is how often activity is written to the store (default
	// 30 seconds, never more than a tenth of the idle limit).
	TouchInterval time.Duration
	// CookieName names the session cookie (default DefaultCookieName,
	// "__Host-hk_session"). The cookie is HttpOnly, SameSite=Strict,
	// Path=/, host-only and never carries an expiry.
	CookieName string
	// InsecureCookie drops the cookie's Secure attribute, for a
	// development server on plain HTTP (default false: HTTPS only). It is
	// refused with a __Host- or __Secure- cookie name.
	InsecureCookie bool
	// CSRFHeader names the header carrying the CSRF token (default
	// X-CSRF-Token).
	CSRFHeader string
	// CSRFFormField names the form field that carries the CSRF token in
	// HTML forms (default csrf_token).
	CSRFFormField string
	// AllowBearer also accepts the token in an "Authorization: Bearer"
	// header, for non-browser clients (default false).
	AllowBearer bool
	// TrustedOrigins are further origins ("https://app.example.org")
	// whose cross-origin state-changing requests are accepted (default
	// none: same origin only).
	TrustedOrigins []string
	// ClientIP extracts the client address recorded in audit events
	// (default audit.PeerIP, the TCP peer; forwarding headers are never
	// trusted unless you install an extractor such as audit.TrustedProxies).
	ClientIP audit.ClientIPFunc
	// Channel is recorded in audit events (default audit.ChannelWeb).
	Channel audit.Channel
}

// apply copies the set fields of c onto m.
func (c *SessionConfig) apply(m *sessionManager) error {
	setDur := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	setDur(&m.IdleTimeout, c.IdleTimeout)
	setDur(&m.AbsoluteTimeout, c.AbsoluteTimeout)
	setDur(&m.ReauthAfter, c.ReauthAfter)
	setDur(&m.TouchInterval, c.TouchInterval)
	if c.CookieName != "" {
		m.Cookie.Name = c.CookieName
	}
	m.Cookie.Secure = !c.InsecureCookie
	if c.CSRFHeader != "" {
		m.CSRFHeader = c.CSRFHeader
	}
	if c.CSRFFormField != "" {
		m.CSRFFormField = c.CSRFFormField
	}
	m.AllowBearer = c.AllowBearer
	for _, o := range c.TrustedOrigins {
		if err := m.TrustOrigin(o); err != nil {
			return err
		}
	}
	if c.ClientIP != nil {
		m.ClientIP = c.ClientIP
	}
	if c.Channel != "" {
		m.Channel = c.Channel
	}
	return nil
}
