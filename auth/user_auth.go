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
	memattempts "github.com/hipaakit/hipaakit/auth/internal/attempts"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
)

// Authenticator verifies credentials and manages them: login with password
// and second factor, throttling and lockout, TOTP enrolment, recovery codes,
// password changes, and user administration. It is safe for concurrent use.
// Build it with NewAuthenticator.
type authenticator struct {
	cfg      Config
	revoker  sessionRevoker
	users    UserStore
	hasher   passwordHasher
	clock    clock.Clock
	log      *slog.Logger
	attempts AttemptStore
	refusals *refusalLog
	pad      latencyPad

	keyOnce sync.Once
	key     []byte

	// pk runs the passkey ceremonies (nil without Config.Passkeys.RPID).
	pk *passkeys

	// adminMu serialises the changes that may demote an administrator.
	adminMu sync.Mutex

	// userLocks serialise this process's read-modify-write cycles on one
	// user (striped by ID), so that concurrent requests on one account do
	// not exhaust the compare-and-swap retries against each other; replicas
	// still meet at the store's compare-and-swap.
	userLocks [64]sync.Mutex
}

// lockUser locks the stripe of user id and returns its unlock.
func (a *authenticator) lockUser(id string) func() {
	h := uint32(2166136261)
	for i := range len(id) {
		h = (h ^ uint32(id[i])) * 16777619
	}
	m := &a.userLocks[h%uint32(len(a.userLocks))]
	m.Lock()
	return m.Unlock
}

// newAuthenticator checks the credential part of cfg, fills in its
// defaults and returns an Authenticator that ends sessions through rev.
// When rev is the *SessionManager of the service, the two share one tenant
// policy source and the manager reads password policies (and so the
// password MaxAge) from the Authenticator (see linkSessionManager).
func newAuthenticator(cfg Config, rev sessionRevoker) (*authenticator, error) {
	if cfg.Users == nil {
		return nil, errors.New("auth: Config.Users is required")
	}
	if cfg.Audit == nil {
		return nil, errors.New("auth: Config.Audit is required")
	}
	for _, r := range cfg.PHIRoles {
		if slices.Contains(cfg.AdminRoles, r) {
			return nil, fmt.Errorf("%w: role %s is both administrative and PHI-reading (Config.AdminRoles, Config.PHIRoles)", policy.ErrInvalid, r)
		}
	}
	if cfg.hasher == nil {
		h, err := password.NewHasher(password.HasherConfig{Params: cfg.Argon2, MaxConcurrent: cfg.MaxConcurrentHashes})
		if err != nil {
			return nil, fmt.Errorf("%w (Config.Argon2, Config.MaxConcurrentHashes)", err)
		}
		cfg.hasher = h
	}
	if cfg.Passwords == (password.Policy{}) {
		cfg.Passwords = password.DefaultPolicy()
	}
	if err := cfg.Passwords.Validate(); err != nil {
		return nil, err
	}
	for name, p := range cfg.PasswordPolicies {
		if !policy.ValidName(name, 64) {
			return nil, errors.New("auth: malformed password policy name")
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("auth: password policy %s: %w", name, err)
		}
	}
	tc, err := cfg.TOTP.WithDefaults()
	if err != nil {
		return nil, err
	}
	cfg.TOTP = tc
	m, _ := rev.(*sessionManager)
	if err := linkTenantPolicies(&cfg, m); err != nil {
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
		attempts = memattempts.NewMemory(cfg.Lockout.MaxTracked)
	}
	a := &authenticator{cfg: cfg, revoker: rev, users: cfg.Users, hasher: cfg.hasher, clock: clock.OrSystem(cfg.Clock),
		log: cfg.Logger, attempts: attempts, refusals: newRefusalLog(cfg.Lockout.MaxTracked)}
	if m != nil && m.Passwords == nil {
		m.Passwords = a
	}
	return a, nil
}

// Users returns the user store.
func (a *authenticator) Users() UserStore { return a.users }

// tenantPolicy returns the policy of tenantID (the zero policy when no
// source is configured).
func (a *authenticator) tenantPolicy(ctx context.Context, tenantID string) (policy.Tenant, error) {
	if a.cfg.Tenants == nil {
		return policy.Tenant{TenantID: tenantID}, nil
	}
	p, err := a.cfg.Tenants.TenantPolicy(ctx, tenantID)
	if err != nil {
		return policy.Tenant{}, fmt.Errorf("auth: tenant policy: %w", err)
	}
	return p, nil
}

// PasswordPolicyFor returns the password policy that applies to tenantID's
// users: the named policy its policy.Tenant selects, else Config.Passwords.
func (a *authenticator) PasswordPolicyFor(ctx context.Context, tenantID string) (password.Policy, error) {
	tp, err := a.tenantPolicy(ctx, tenantID)
	if err != nil {
		return password.Policy{}, err
	}
	if tp.PasswordPolicy == "" {
		return a.cfg.Passwords, nil
	}
	p, ok := a.cfg.PasswordPolicies[tp.PasswordPolicy]
	if !ok {
		return password.Policy{}, fmt.Errorf("%w: tenant selects an unknown password policy", policy.ErrInvalid)
	}
	return p, nil
}

// record writes one audit event; its error means the operation must fail.
func (a *authenticator) record(ctx context.Context, e audit.Event) error {
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
func (a *authenticator) revoke(ctx context.Context, userID, keepSessionID string) error {
	if a.revoker == nil {
		return errors.New("auth: no session revoker configured")
	}
	if keepSessionID != "" {
		if o, ok := a.revoker.(interface {
			RevokeOtherSessions(ctx context.Context, userID, keepSessionID string) (int, error)
		}); ok {
			if _, err := o.RevokeOtherSessions(ctx, userID, keepSessionID); err != nil {
				return fmt.Errorf("auth: revoke sessions: %w", err)
			}
			return nil
		}
	}
	if err := a.revoker.RevokeUser(ctx, userID); err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	return nil
}

// maxCASRetries bounds the read-modify-write loops on a user.
const maxCASRetries = 16

// modify reads user id, applies change and stores the result with
// compare-and-swap, retrying on ErrVersionConflict. change sees a fresh copy
// each time; when it returns an error nothing is stored.
func (a *authenticator) modify(ctx context.Context, id string, change func(u *User) error) (*User, error) {
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
func (a *authenticator) storeNow() time.Time { return a.clock.Now().UTC().Truncate(time.Microsecond) }
