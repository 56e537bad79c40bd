package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrInvalid reports a role, permission or tenant policy definition
// that breaks a rule (unknown permission or role, bad name, bad limit). The
// message names the rule that failed, never secrets.
var ErrInvalid = errors.New("auth/policy: invalid policy")

// RecoveryMethod names a way to sign in when the second factor is lost.
type RecoveryMethod string

// Recovery methods a tenant policy can allow.
const (
	// RecoveryCodes allows the single-use recovery codes issued at MFA enrolment.
	RecoveryCodes RecoveryMethod = "recovery_code"
	// RecoveryAdminReset allows an administrator to reset the second factor.
	RecoveryAdminReset RecoveryMethod = "admin_reset"
)

// UserVerification is a tenant's user-verification requirement for
// passkeys (Tenant.PasskeyUserVerification).
type UserVerification string

// User-verification requirements.
const (
	UserVerificationRequired  UserVerification = "required"
	UserVerificationPreferred UserVerification = "preferred"
)

// Limits on session settings a tenant policy may choose.
const (
	minSessionLimit = time.Minute
	maxIdleLimit    = 24 * time.Hour
	maxAbsLimit     = 30 * 24 * time.Hour
)

// Tenant is a tenant's security policy. It is enforced at login
// (MFA requirement, recovery methods, session limits of the new session)
// and at every request (session limits, MFA requirement), so tightening it
// applies to sessions that already exist.
type Tenant struct {
	TenantID string
	// RequireMFA requires a second factor for every user of the tenant.
	// A session established without one may only reach the MFA enrolment
	// handlers; everything behind the policy step answers 403.
	RequireMFA bool
	// PasskeyRoles lists roles whose sessions must have been established
	// (or re-authenticated) with a passkey, a phishing-resistant factor
	// (NIST SP 800-63B AAL3), for example the administrators' role and the
	// break-glass role. A session of a user holding one of them (an
	// emergency elevation included) without a passkey gets 403
	// "passkey_required" at the policy step; nil means none.
	PasskeyRoles []string
	// PasskeySecondFactor accepts a passkey as the second factor after the
	// password, instead of (or besides) a TOTP code: Login answers
	// SecondFactorRequired for a user with a passkey, and the assertion goes
	// to VerifySecondFactor. A session so established has MFA and counts as
	// a passkey session for PasskeyRoles.
	PasskeySecondFactor bool
	// PasskeyUserVerification is what the server demands of the tenant's
	// passkey ceremonies (registration, passwordless login, second factor):
	// UserVerificationRequired refuses a response without the
	// user-verified flag (biometrics or PIN), UserVerificationPreferred
	// accepts one with user presence only. Empty: the deployment's
	// setting (required unless passkey.Config.AllowUnverified). A
	// passwordless login without user verification is one factor (the
	// session has no MFA).
	PasskeyUserVerification UserVerification
	// IdleTimeout and AbsoluteTimeout, when not zero, cap the session
	// limits of SessionConfig for the tenant's sessions (a tenant can
	// shorten the limits, never lengthen them).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// ReauthAfter, when not zero, caps how old an authentication may be
	// for sensitive actions.
	ReauthAfter time.Duration
	// PasswordPolicy names the password policy the tenant's users are held
	// to; its meaning belongs to the password checker. Empty means the default.
	PasswordPolicy string
	// RecoveryMethods lists the allowed recovery methods; nil means
	// RecoveryCodes only, an empty non-nil slice means none.
	RecoveryMethods []RecoveryMethod

	// Administration and break-glass limits (see Config.PHIRoles and
	// Guard.Elevate).

	// ApprovePHIGrants requires a second administrator's approval for a
	// role change that grants a role in Config.PHIRoles: SetRoles then
	// stores a pending RoleRequest (ErrApprovalRequired) and ApproveRoles,
	// called by another administrator, applies it.
	ApprovePHIGrants bool
	// EmergencyReasonMinChars and EmergencyReasonMinWords are the least a
	// break-glass reason must hold: letters and digits, and words of at
	// least two of them (defaults DefaultEmergencyReasonMinChars and
	// DefaultEmergencyReasonMinWords).
	EmergencyReasonMinChars int
	EmergencyReasonMinWords int
	// MaxEmergenciesPerDay caps each user's break-glass elevations in the
	// 24 hours before a new one (default DefaultMaxEmergenciesPerDay).
	MaxEmergenciesPerDay int

	// Lockout (throttling and lockout of failed logins).

	// PermanentLockout locks an account after LockoutConfig.MaxFailures
	// consecutive failures until an operator unlocks it
	// (Service.Unlock, `hipaakit user unlock`). Without it, the
	// default, repeated failures only raise the back-off, capped at
	// LockoutConfig.MaxDelay, so that no one can lock another user out for
	// good.
	PermanentLockout bool

	// Concurrent sessions.

	// MaxSessionsPerUser, when not zero, caps how many live sessions one
	// user holds: a login that would exceed it ends the user's oldest
	// sessions (a logout event with reason session_limit each). 0 means
	// unlimited; at most MaxSessionsLimit.
	MaxSessionsPerUser int
}

// maxSessionsLimit is the largest Tenant.MaxSessionsPerUser.
const maxSessionsLimit = 1000

// Defaults of the break-glass limits of a Tenant.
const (
	defaultEmergencyReasonMinChars = 20
	defaultEmergencyReasonMinWords = 3
	defaultMaxEmergenciesPerDay    = 3
	maxEmergencyLimit              = 100
)

// emergencyLimits returns the policy's break-glass limits with defaults.
func (p *Tenant) EmergencyLimits() (minChars, minWords, perDay int) {
	minChars, minWords, perDay = defaultEmergencyReasonMinChars, defaultEmergencyReasonMinWords, defaultMaxEmergenciesPerDay
	if p.EmergencyReasonMinChars > 0 {
		minChars = p.EmergencyReasonMinChars
	}
	if p.EmergencyReasonMinWords > 0 {
		minWords = p.EmergencyReasonMinWords
	}
	if p.MaxEmergenciesPerDay > 0 {
		perDay = p.MaxEmergenciesPerDay
	}
	return minChars, minWords, perDay
}

// Validate checks p's limits and names.
func (p *Tenant) Validate() error {
	if p.TenantID != "" && !ValidTenantID(p.TenantID) {
		return fmt.Errorf("%w: malformed tenant id", ErrInvalid)
	}
	for _, d := range []struct {
		v   time.Duration
		max time.Duration
		n   string
	}{{p.IdleTimeout, maxIdleLimit, "idle timeout"}, {p.AbsoluteTimeout, maxAbsLimit, "absolute timeout"}, {p.ReauthAfter, maxAbsLimit, "reauthentication age"}} {
		if d.v != 0 && (d.v < minSessionLimit || d.v > d.max) {
			return fmt.Errorf("%w: %s must be between %v and %v", ErrInvalid, d.n, minSessionLimit, d.max)
		}
	}
	if !ValidName(p.PasswordPolicy, 64) && p.PasswordPolicy != "" {
		return fmt.Errorf("%w: malformed password policy name", ErrInvalid)
	}
	for _, n := range []int{p.EmergencyReasonMinChars, p.EmergencyReasonMinWords, p.MaxEmergenciesPerDay} {
		if n < 0 || n > maxEmergencyLimit {
			return fmt.Errorf("%w: break-glass limits must be between 0 and %d", ErrInvalid, maxEmergencyLimit)
		}
	}
	if p.MaxSessionsPerUser < 0 || p.MaxSessionsPerUser > maxSessionsLimit {
		return fmt.Errorf("%w: max sessions per user must be between 0 and %d", ErrInvalid, maxSessionsLimit)
	}
	switch p.PasskeyUserVerification {
	case "", UserVerificationRequired, UserVerificationPreferred:
	default:
		return fmt.Errorf("%w: passkey user verification must be required or preferred", ErrInvalid)
	}
	for _, m := range p.RecoveryMethods {
		if m != RecoveryCodes && m != RecoveryAdminReset {
			return fmt.Errorf("%w: unknown recovery method", ErrInvalid)
		}
	}
	return nil
}

// AllowsRecovery reports whether the policy allows recovery method m.
func (p *Tenant) AllowsRecovery(m RecoveryMethod) bool {
	if p.RecoveryMethods == nil {
		return m == RecoveryCodes
	}
	return slices.Contains(p.RecoveryMethods, m)
}

// Source returns the security policy of a tenant. It is read at
// every request, so implementations should answer from memory.
type Source interface {
	// Tenant returns the policy of tenantID. A tenant without a
	// policy of its own gets the source's default.
	TenantPolicy(ctx context.Context, tenantID string) (Tenant, error)
}

// Tenants is an in-memory Source that can be changed at
// run time (changes apply on the next request). The zero value is not
// usable; call NewTenants.
type Tenants struct {
	mu  sync.RWMutex
	def Tenant
	m   map[string]Tenant
}

var _ Source = (*Tenants)(nil)

// NewTenants returns a source whose default is def (def.TenantID
// must be empty) and that holds the given tenant policies.
func NewTenants(def Tenant, policies ...Tenant) (*Tenants, error) {
	if def.TenantID != "" {
		return nil, fmt.Errorf("%w: the default policy has no tenant id", ErrInvalid)
	}
	if err := def.Validate(); err != nil {
		return nil, err
	}
	t := &Tenants{def: clonePolicy(def), m: map[string]Tenant{}}
	for _, p := range policies {
		if p.TenantID == "" {
			return nil, fmt.Errorf("%w: tenant policy without tenant id", ErrInvalid)
		}
		if _, dup := t.m[p.TenantID]; dup {
			return nil, fmt.Errorf("%w: duplicate tenant policy", ErrInvalid)
		}
		if err := t.Set(p); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func clonePolicy(p Tenant) Tenant {
	p.RecoveryMethods = slices.Clone(p.RecoveryMethods)
	p.PasskeyRoles = slices.Clone(p.PasskeyRoles)
	return p
}

// Set validates p and makes it the policy of p.TenantID.
func (t *Tenants) Set(p Tenant) error {
	if p.TenantID == "" {
		return fmt.Errorf("%w: tenant policy without tenant id", ErrInvalid)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[p.TenantID] = clonePolicy(p)
	return nil
}

// Tenant implements Source.
func (t *Tenants) TenantPolicy(_ context.Context, tenantID string) (Tenant, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if p, ok := t.m[tenantID]; ok {
		return p, nil
	}
	p := t.def
	p.TenantID = tenantID
	return p, nil
}

// --- MFA requirement at construction (auth-session) ---

// RequiresMFA reports whether the default or any tenant policy requires
// MFA. New uses it to refuse a configuration that requires
// MFA without a SecretSealer.
func (t *Tenants) RequiresMFA() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.def.RequireMFA {
		return true
	}
	for _, p := range t.m {
		if p.RequireMFA {
			return true
		}
	}
	return false
}
