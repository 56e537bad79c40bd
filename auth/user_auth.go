package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// Config configures an Authenticator. Users and Audit are required; every
// other zero field takes the default its comment gives.
type Config struct {
	// Users stores the identities (required).
	Users UserStore
	// Audit records every login attempt, lockout and credential change
	// (required). When an event cannot be written, the operation fails:
	// no audit, no access.
	Audit audit.Writer
	// Sessions ends a user's sessions when the user is disabled or removed
	// and when a password or second factor changes. The SessionManager of
	// this package satisfies it. When nil, those operations fail rather than
	// leave sessions running; set NoSessions for a deployment without
	// server-side sessions.
	Sessions SessionRevoker
	// Sealer seals TOTP secrets at rest (see PHISealer, NewKeySealer).
	// Without it TOTP enrolment fails.
	Sealer SecretSealer
	// Hasher hashes passwords (default: DefaultArgon2Params, at most
	// GOMAXPROCS concurrent hashes).
	Hasher *Hasher
	// Passwords is the default password policy (default
	// DefaultPasswordPolicy()).
	Passwords PasswordPolicy
	// PasswordPolicies are further named policies that a TenantPolicy
	// selects by name (TenantPolicy.PasswordPolicy).
	PasswordPolicies map[string]PasswordPolicy
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
	// NewAuthenticator refuses a role that is in both lists.
	PHIRoles []string
	// Tenants gives each tenant's security policy (MFA requirement, allowed
	// recovery methods, password policy name). Nil means the defaults, or
	// the Policies of the SessionManager in Sessions when it has some. When
	// Sessions is a *SessionManager, that manager enforces this source on
	// every request (it needs no Policies of its own); a manager with
	// different Policies is refused with ErrPolicySourceConflict.
	Tenants TenantPolicySource
	// TOTP configures the second factor (defaults in TOTPConfig).
	TOTP TOTPConfig
	// Lockout configures throttling and lockout (defaults in LockoutConfig).
	Lockout LockoutConfig
	// Attempts counts the attempts of client keys and of names that match
	// no usable account (default a MemoryAttemptStore of
	// Lockout.MaxTracked keys, which suits one process). Replicas share
	// pgauth.AttemptStore; a deployment on the file stores uses a
	// FileAttemptStore beside them so that unknown names cost the same
	// durable write as known accounts.
	Attempts AttemptStore
	// ChallengeKey is the HMAC-SHA256 key (at least 32 bytes) that signs
	// the Challenge between the password and the second-factor step. All
	// instances behind one login endpoint must share it; when empty, each
	// Authenticator makes a random key, which suits a single instance.
	ChallengeKey []byte
	// Clock is the time source (default the system clock).
	Clock clock.Clock
	// Logger receives operational errors; never credentials. Default
	// slog.Default().
	Logger *slog.Logger
}

// NoSessions is a SessionRevoker for deployments that keep no server-side
// sessions; it revokes nothing.
var NoSessions SessionRevoker = SessionRevokerFunc(func(context.Context, string) error { return nil })

// Authenticator verifies credentials and manages them: login with password
// and second factor, throttling and lockout, TOTP enrolment, recovery codes,
// password changes, and user administration. It is safe for concurrent use.
// Build it with NewAuthenticator.
type Authenticator struct {
	cfg      Config
	users    UserStore
	hasher   *Hasher
	clock    clock.Clock
	log      *slog.Logger
	attempts AttemptStore
	refusals *refusalLog
	pad      latencyPad

	keyOnce sync.Once
	key     []byte

	// adminMu serialises the changes that may demote an administrator.
	adminMu sync.Mutex

	// userLocks serialise this process's read-modify-write cycles on one
	// user (striped by ID), so that concurrent requests on one account do
	// not exhaust the compare-and-swap retries against each other; replicas
	// still meet at the store's compare-and-swap.
	userLocks [64]sync.Mutex
}

// lockUser locks the stripe of user id and returns its unlock.
func (a *Authenticator) lockUser(id string) func() {
	h := uint32(2166136261)
	for i := range len(id) {
		h = (h ^ uint32(id[i])) * 16777619
	}
	m := &a.userLocks[h%uint32(len(a.userLocks))]
	m.Lock()
	return m.Unlock
}

// NewAuthenticator checks cfg, fills in its defaults and returns an
// Authenticator.
func NewAuthenticator(cfg Config) (*Authenticator, error) {
	if cfg.Users == nil {
		return nil, errors.New("auth: Config.Users is required")
	}
	if cfg.Audit == nil {
		return nil, errors.New("auth: Config.Audit is required")
	}
	for _, r := range cfg.PHIRoles {
		if slices.Contains(cfg.AdminRoles, r) {
			return nil, fmt.Errorf("%w: role %s is both administrative and PHI-reading (Config.AdminRoles, Config.PHIRoles)", ErrInvalidPolicy, r)
		}
	}
	if cfg.Hasher == nil {
		h, err := NewHasher(DefaultArgon2Params(), 0)
		if err != nil {
			return nil, err
		}
		cfg.Hasher = h
	}
	if cfg.Passwords == (PasswordPolicy{}) {
		cfg.Passwords = DefaultPasswordPolicy()
	}
	if err := cfg.Passwords.Validate(); err != nil {
		return nil, err
	}
	for name, p := range cfg.PasswordPolicies {
		if !validToken(name, 64) {
			return nil, errors.New("auth: malformed password policy name")
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("auth: password policy %s: %w", name, err)
		}
	}
	if err := cfg.TOTP.setDefaults(); err != nil {
		return nil, err
	}
	if err := linkTenantPolicies(&cfg); err != nil {
		return nil, err
	}
	if err := checkMFASealer(cfg.Tenants, cfg.Sealer); err != nil {
		return nil, err
	}
	if err := cfg.Lockout.setDefaults(); err != nil {
		return nil, err
	}
	if n := len(cfg.ChallengeKey); n > 0 && n < 32 {
		return nil, errors.New("auth: Config.ChallengeKey must be at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	attempts := cfg.Attempts
	if attempts == nil {
		attempts = NewMemoryAttemptStore(cfg.Lockout.MaxTracked)
	}
	return &Authenticator{cfg: cfg, users: cfg.Users, hasher: cfg.Hasher, clock: clock.OrSystem(cfg.Clock),
		log: cfg.Logger, attempts: attempts, refusals: newRefusalLog(cfg.Lockout.MaxTracked)}, nil
}

// Users returns the user store.
func (a *Authenticator) Users() UserStore { return a.users }

// tenantPolicy returns the policy of tenantID (the zero policy when no
// source is configured).
func (a *Authenticator) tenantPolicy(ctx context.Context, tenantID string) (TenantPolicy, error) {
	if a.cfg.Tenants == nil {
		return TenantPolicy{TenantID: tenantID}, nil
	}
	p, err := a.cfg.Tenants.TenantPolicy(ctx, tenantID)
	if err != nil {
		return TenantPolicy{}, fmt.Errorf("auth: tenant policy: %w", err)
	}
	return p, nil
}

// PasswordPolicyFor returns the password policy that applies to tenantID's
// users: the named policy its TenantPolicy selects, else Config.Passwords.
func (a *Authenticator) PasswordPolicyFor(ctx context.Context, tenantID string) (PasswordPolicy, error) {
	tp, err := a.tenantPolicy(ctx, tenantID)
	if err != nil {
		return PasswordPolicy{}, err
	}
	if tp.PasswordPolicy == "" {
		return a.cfg.Passwords, nil
	}
	p, ok := a.cfg.PasswordPolicies[tp.PasswordPolicy]
	if !ok {
		return PasswordPolicy{}, fmt.Errorf("%w: tenant selects an unknown password policy", ErrInvalidPolicy)
	}
	return p, nil
}

// record writes one audit event; its error means the operation must fail.
func (a *Authenticator) record(ctx context.Context, e audit.Event) error {
	if e.Time.IsZero() {
		e.Time = a.storeNow()
	}
	if err := a.cfg.Audit.Write(ctx, e); err != nil {
		return fmt.Errorf("auth: audit: %w", err)
	}
	return nil
}

// revoke ends the sessions of userID, keeping keepSessionID when it is not
// empty and the revoker can spare one session (RevokeOtherSessions).
func (a *Authenticator) revoke(ctx context.Context, userID, keepSessionID string) error {
	if a.cfg.Sessions == nil {
		return errors.New("auth: no SessionRevoker configured (Config.Sessions)")
	}
	if keepSessionID != "" {
		if o, ok := a.cfg.Sessions.(interface {
			RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) (int, error)
		}); ok {
			if _, err := o.RevokeOtherSessions(ctx, userID, keepSessionID); err != nil {
				return fmt.Errorf("auth: revoke sessions: %w", err)
			}
			return nil
		}
	}
	if err := a.cfg.Sessions.RevokeUser(ctx, userID); err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	return nil
}

// maxCASRetries bounds the read-modify-write loops on a user.
const maxCASRetries = 16

// modify reads user id, applies change and stores the result with
// compare-and-swap, retrying on ErrVersionConflict. change sees a fresh copy
// each time; when it returns an error nothing is stored.
func (a *Authenticator) modify(ctx context.Context, id string, change func(u *User) error) (*User, error) {
	defer a.lockUser(id)()
	for range maxCASRetries {
		u, err := a.users.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(u); err != nil {
			return nil, err
		}
		u.UpdatedAt = a.storeNow()
		err = a.users.Update(ctx, u)
		if errors.Is(err, ErrVersionConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return u, nil
	}
	return nil, ErrVersionConflict
}

// storeNow is the current time as stores keep it: UTC, to the microsecond
// (PostgreSQL's precision), so that every store returns what was written.
func (a *Authenticator) storeNow() time.Time { return a.clock.Now().UTC().Truncate(time.Microsecond) }
