package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	memattempts "github.com/hipaakit/hipaakit/auth/internal/attempts"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// LoginRequest is one login attempt. It prints, logs and encodes without
// the password and codes.
type LoginRequest struct {
	TenantID string
	// Name is the login name as typed; it is canonicalised (CanonicalName).
	Name     string
	Password string
	// TOTPCode or RecoveryCode may come with the password in one request;
	// otherwise Login answers SecondFactorRequired and the code goes to
	// VerifySecondFactor.
	TOTPCode     string
	RecoveryCode string
	// ClientKey identifies the client for per-client throttling, for
	// example the IP address from the integrator's trusted extractor
	// (never a raw forwarding header). Empty disables per-client throttling
	// for this attempt.
	ClientKey string
	// Origin is recorded in the audit events.
	Origin audit.Origin
}

// String redacts the credentials.
func (r LoginRequest) String() string {
	return fmt.Sprintf("auth.LoginRequest{TenantID:%s Name:%q Password:[redacted] Codes:[redacted]}", r.TenantID, r.Name)
}

// GoString redacts the credentials.
func (r LoginRequest) GoString() string { return r.String() }

// LogValue redacts the credentials.
func (r LoginRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant_id", r.TenantID), slog.String("name", r.Name))
}

// MarshalJSON redacts the credentials.
func (r LoginRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		TenantID string `json:"tenant_id"`
		Name     string `json:"name"`
	}{r.TenantID, r.Name})
}

// SecondFactorRequest completes a login whose password step answered
// SecondFactorRequired. Exactly one of TOTPCode, RecoveryCode and Passkey
// is set. It prints and logs without the codes.
type SecondFactorRequest struct {
	// Challenge is LoginResult.Challenge from the password step.
	Challenge    string
	TOTPCode     string
	RecoveryCode string
	// Passkey is the browser's assertion (the PublicKeyCredential as JSON)
	// for the options of Service.BeginPasskeyLogin(ctx, Challenge), where
	// the tenant accepts a passkey as the second factor
	// (policy.Tenant.PasskeySecondFactor).
	Passkey   []byte
	ClientKey string
	Origin    audit.Origin
}

// String redacts the codes and the challenge.
func (r SecondFactorRequest) String() string { return "auth.SecondFactorRequest{[redacted]}" }

// GoString redacts the codes and the challenge.
func (r SecondFactorRequest) GoString() string { return r.String() }

// LogValue redacts the codes and the challenge.
func (r SecondFactorRequest) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// LoginResult is the outcome of a successful step of a login.
type LoginResult struct {
	// User is the authenticated user (a copy).
	User *User
	// Authenticated is true when the login is complete: start a session
	// (Service.Begin(ctx, w, r, res.User, res.MFA)).
	Authenticated bool
	// MFA is true when a second factor was verified.
	MFA bool
	// SecondFactorRequired is true when the password was right and the user
	// has a second factor (TOTP, or a passkey where the tenant accepts
	// one): nothing is authenticated yet. Ask for it and call
	// VerifySecondFactor with Challenge within ChallengeTTL.
	SecondFactorRequired bool
	// SecondFactors lists what VerifySecondFactor accepts for this user:
	// "totp" (and its recovery codes), "passkey".
	SecondFactors []string
	// Passkey is true when a passkey authenticated the user (passwordless
	// or as the second factor): start the session with
	// Service.BeginPasskeySession, which records it for the tenant's
	// PasskeyRoles.
	Passkey bool
	// Challenge is an opaque, signed, short-lived reference to the
	// password step; it is not a session and grants nothing by itself.
	Challenge string
	// MFAEnrollmentRequired is true when the tenant requires a second
	// factor and the user has none: the session may only reach the
	// enrolment handlers until EnrollTOTP and ConfirmTOTP succeed.
	MFAEnrollmentRequired bool
	// PasswordExpired is true when the password outlived the policy's
	// MaxAge: the session may only reach the password change handler.
	PasswordExpired bool
	// UsedRecoveryCode is true when a recovery code was consumed; tell the
	// user how many remain (len(User.MFA.RecoveryCodes)).
	UsedRecoveryCode bool
}

// Login verifies a password (and a second factor, when one comes with it).
// This is what a login handler calls. In order, it:
//
//  1. reserves the attempt's counts against the client key and the
//     account (User.Lockout, or the AttemptStore for a name without a
//     usable account) before any hashing, and refuses with a
//     *ThrottledError (ErrThrottled) while either is in back-off;
//  2. hashes the password once whatever happens, against the user's hash,
//     or against a dummy when the user is unknown, disabled, removed or
//     locked, and compares in constant time, so that every failure takes
//     the same time and returns the same ErrInvalidCredentials;
//  3. re-hashes the password when the stored parameters are outdated;
//  4. when the user has TOTP: verifies TOTPCode or RecoveryCode if given,
//     else returns SecondFactorRequired with a Challenge;
//  5. resets the failure counter on success and audits every checked
//     attempt (actions login, login_failed, mfa_failed, lockout; reasons
//     such as "unknown_user", "wrong_password", "account_locked"; refusals
//     while throttled aggregated as "throttled" and "throttled_summary"), never
//     with the password or a code. An event that cannot be written fails
//     the login.
//
// Errors: ErrInvalidCredentials for every credential failure, ErrThrottled,
// or an operational error (store, audit, context) that is none of those.
func (a *authenticator) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	now := a.clock.Now()
	name, nerr := CanonicalName(req.Name)
	acctKey := "a\x00" + req.TenantID + "\x00" + name
	base := audit.Event{Action: audit.ActionLoginFailed, Outcome: audit.OutcomeFailure,
		Actor: audit.Actor{TenantID: auditableTenant(req.TenantID)}, Origin: req.Origin}

	if err := a.flushRefusals(ctx); err != nil {
		return nil, err
	}
	// Every attempt reserves its counts before any credential is checked,
	// so that N parallel attempts count N: the client key's first, then the
	// account's (on the user record for a usable account, on the
	// AttemptStore under the name otherwise, with the same back-off).
	if err := a.reserveClient(ctx, req.ClientKey, now, base); err != nil {
		return nil, err
	}
	var u *User
	if nerr == nil && policy.ValidTenantID(req.TenantID) {
		var err error
		u, err = a.users.GetByName(ctx, req.TenantID, name)
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return nil, a.releaseClient(ctx, req.ClientKey, err)
		}
	}
	if u != nil {
		base.Actor.UserID = u.ID
	}
	reserved := false
	start := time.Now() // real elapsed time, not the injectable clock
	if u != nil && u.Active() && !u.Lockout.Locked() {
		fresh, w, err := a.reserve(ctx, u.ID, now, base)
		if err != nil {
			return nil, err
		}
		a.pad.observe(time.Since(start))
		if w > 0 {
			return nil, a.throttled(ctx, acctKey, base, w)
		}
		u, reserved = fresh, fresh.Active() && !fresh.Lockout.Locked()
	} else {
		w, err := a.attempts.Reserve(ctx, attemptKey(acctKey), now, a.cfg.Lockout.ForgetAfter, a.waitFunc(a.cfg.Lockout.FreeFailures, now))
		if err != nil {
			return nil, err
		}
		// Pad to the cost of a known account's durable reservation when
		// this one was not durable (a durable store costs about as much on
		// its own; padding it too would make unknown names slower).
		if _, inMemory := a.attempts.(*memattempts.Memory); inMemory {
			a.pad.padFrom(ctx, time.Since(start))
		}
		if w > 0 {
			return nil, a.throttled(ctx, acctKey, base, w)
		}
	}

	usable := reserved
	hash := ""
	if usable {
		hash = u.PasswordHash
	}
	pw := req.Password
	if len(pw) > password.MaxBytes {
		pw, usable = "", false
	}
	ok, rehash, err := a.hasher.Verify(ctx, pw, hash)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return nil, err
	}
	if !ok || !usable {
		reason := "wrong_password"
		switch {
		case u == nil:
			reason = "unknown_user"
		case !u.Active():
			reason = "user_inactive"
		case u.Lockout.Locked():
			reason = "account_locked"
		case err != nil:
			reason = "malformed_hash"
			a.log.ErrorContext(ctx, "auth: stored password hash is malformed", "user_id", u.ID)
		}
		if reserved {
			return nil, a.reservedFailure(ctx, u.ID, req.ClientKey, base, reason)
		}
		return nil, a.reservedFailure(ctx, "", req.ClientKey, base, reason)
	}
	if rehash {
		a.rehash(ctx, u, req.Password)
	}
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	if factors := a.secondFactors(&tp, u); len(factors) > 0 {
		if req.TOTPCode == "" && req.RecoveryCode == "" {
			ch, err := a.newChallenge(u, now)
			if err != nil {
				return nil, err
			}
			ev := base
			ev.Action, ev.Outcome, ev.Reason = audit.ActionLogin, audit.OutcomeSuccess, "second_factor_required"
			if err := a.record(ctx, ev); err != nil {
				return nil, err
			}
			// The password was right: this attempt is not a failure. The
			// second factor reserves its own attempt.
			if err := a.release(ctx, u.ID); err != nil {
				return nil, err
			}
			if err := a.releaseClient(ctx, req.ClientKey, nil); err != nil {
				return nil, err
			}
			return &LoginResult{User: u, SecondFactorRequired: true, Challenge: ch, SecondFactors: factors}, nil
		}
		return a.secondFactor(ctx, u, req.TOTPCode, req.RecoveryCode, req.ClientKey, base, nil)
	}
	return a.succeed(ctx, u, false, false, false, req.ClientKey, base)
}

// VerifySecondFactor completes a login with a TOTP code or a recovery code
// after Login answered SecondFactorRequired. A wrong or replayed code, an
// expired or forged challenge, or a recovery code the tenant's policy does
// not allow, returns ErrInvalidCredentials and counts as a failed attempt.
func (a *authenticator) VerifySecondFactor(ctx context.Context, req SecondFactorRequest) (*LoginResult, error) {
	now := a.clock.Now()
	base := audit.Event{Action: audit.ActionMFAFailed, Outcome: audit.OutcomeFailure, Origin: req.Origin}
	if err := a.reserveClient(ctx, req.ClientKey, now, base); err != nil {
		return nil, err
	}
	c, err := a.parseChallenge(req.Challenge, now)
	if err != nil {
		return nil, a.reservedFailure(ctx, "", req.ClientKey, base, "invalid_challenge")
	}
	u, err := a.users.Get(ctx, c.userID)
	if errors.Is(err, ErrUserNotFound) {
		return nil, a.reservedFailure(ctx, "", req.ClientKey, base, "invalid_challenge")
	}
	if err != nil {
		return nil, err
	}
	base.Actor = audit.Actor{UserID: u.ID, TenantID: u.TenantID}
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	byPasskey := len(req.Passkey) > 0
	factor := u.MFA.TOTPActive
	if byPasskey {
		factor = a.passkeyFactor(&tp, u) && req.TOTPCode == "" && req.RecoveryCode == ""
	}
	if !u.Active() || u.Lockout.Locked() || !factor || !u.PasswordChangedAt.Equal(c.pwChanged) || !c.unused(u) {
		return nil, a.reservedFailure(ctx, "", req.ClientKey, base, "invalid_challenge")
	}
	fresh, w, err := a.reserve(ctx, u.ID, now, base)
	if err != nil {
		return nil, err
	}
	if w > 0 {
		return nil, a.throttled(ctx, "u\x00"+u.ID, base, w)
	}
	if !fresh.Active() || fresh.Lockout.Locked() {
		return nil, a.reservedFailure(ctx, "", req.ClientKey, base, "account_locked")
	}
	if byPasskey {
		return a.pk.secondFactor(ctx, fresh, req.Passkey, req.ClientKey, base, c.unused)
	}
	return a.secondFactor(ctx, fresh, req.TOTPCode, req.RecoveryCode, req.ClientKey, base, c.unused)
}

// secondFactor verifies the code for a user whose password step passed.
// guard, when not nil, must accept the user as read before each attempt
// (the challenge is still unused).
func (a *authenticator) secondFactor(ctx context.Context, u *User, totpCode, recoveryCode, clientKey string, base audit.Event, guard func(*User) bool) (*LoginResult, error) {
	base.Action = audit.ActionMFAFailed
	var ok, recovery bool
	var err error
	// The used code (TOTP step or recovery code) and the reset of the
	// failure counter are one compare-and-swap: the winner of concurrent
	// submissions of one code is never undone by a second write losing to
	// the others.
	resetLockout := func(u *User) error {
		if u.Lockout.Locked() {
			return errLockedMeanwhile
		}
		u.Lockout = LockoutState{}
		return nil
	}
	switch {
	case totpCode != "" && recoveryCode == "":
		ok, err = a.useTOTP(ctx, u, totpCode, guard, resetLockout)
	case recoveryCode != "" && totpCode == "":
		tp, perr := a.tenantPolicy(ctx, u.TenantID)
		if perr != nil {
			return nil, perr
		}
		if !tp.AllowsRecovery(policy.RecoveryCodes) {
			return nil, a.reservedFailure(ctx, u.ID, clientKey, base, "recovery_not_allowed")
		}
		recovery = true
		ok, err = a.useRecoveryCode(ctx, u, recoveryCode, guard, resetLockout)
	}
	if errors.Is(err, errLockedMeanwhile) {
		return nil, a.reservedFailure(ctx, u.ID, clientKey, base, "account_locked")
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		reason := "invalid_totp_code"
		if recovery {
			reason = "invalid_recovery_code"
		}
		return nil, a.reservedFailure(ctx, u.ID, clientKey, base, reason)
	}
	// Re-read: useTOTP/useRecoveryCode stored a new version.
	fresh, err := a.users.Get(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return a.succeed(ctx, fresh, true, recovery, true, clientKey, base)
}

// errLockedMeanwhile aborts a second-factor compare-and-swap on an account
// that concurrent failures locked.
var errLockedMeanwhile = errors.New("auth: account locked")

// succeed resets the failure counters (unless reset, when the second
// factor's compare-and-swap already did) and audits the login.
func (a *authenticator) succeed(ctx context.Context, u *User, mfa, recovery, reset bool, clientKey string, base audit.Event) (*LoginResult, error) {
	now := a.clock.Now()
	if !reset && u.Lockout.Failures > 0 {
		var err error
		u, err = a.modify(ctx, u.ID, func(u *User) error {
			if u.Lockout.Locked() {
				return ErrInvalidCredentials
			}
			u.Lockout = LockoutState{}
			return nil
		})
		if errors.Is(err, ErrInvalidCredentials) { // locked meanwhile by concurrent failures
			ev := base
			ev.Action, ev.Reason = audit.ActionLoginFailed, "account_locked"
			if aerr := a.record(ctx, ev); aerr != nil {
				return nil, aerr
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if err := a.releaseClient(ctx, clientKey, nil); err != nil {
		return nil, err
	}
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	pol, err := a.PasswordPolicyFor(ctx, u.TenantID)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{User: u, Authenticated: true, MFA: mfa, UsedRecoveryCode: recovery,
		MFAEnrollmentRequired: tp.RequireMFA && len(a.secondFactors(&tp, u)) == 0,
		PasswordExpired:       pol.Expired(u.PasswordChangedAt, now)}
	ev := base
	ev.Action, ev.Outcome, ev.Reason = audit.ActionLogin, audit.OutcomeSuccess, ""
	ev.Actor = audit.Actor{UserID: u.ID, TenantID: u.TenantID}
	ev.Attrs = map[string]string{"mfa": fmt.Sprint(mfa)}
	if recovery {
		ev.Attrs["factor"] = "recovery_code"
	}
	if err := a.record(ctx, ev); err != nil {
		return nil, err
	}
	return res, nil
}

// rehash stores a fresh hash under the current parameters; a failure is
// logged and does not fail the login.
func (a *authenticator) rehash(ctx context.Context, u *User, pw string) {
	enc, err := a.hasher.Hash(ctx, pw)
	if err == nil {
		_, err = a.modify(ctx, u.ID, func(cur *User) error {
			if cur.PasswordHash != u.PasswordHash {
				return nil // changed meanwhile; keep the newer one
			}
			cur.PasswordHash = enc
			return nil
		})
	}
	if err != nil {
		a.log.WarnContext(ctx, "auth: password rehash failed", "user_id", u.ID, "error", err)
	}
}

// auditableTenant keeps a malformed tenant ID (attacker input) out of the
// audit trail.
func auditableTenant(t string) string {
	if policy.ValidTenantID(t) {
		return t
	}
	return ""
}

// secondFactors lists the second factors u has under tp: "totp" when
// enrolled, "passkey" when the tenant accepts passkeys as the second
// factor and u has one.
func (a *authenticator) secondFactors(tp *policy.Tenant, u *User) []string {
	var out []string
	if u.MFA.TOTPActive {
		out = append(out, "totp")
	}
	if a.passkeyFactor(tp, u) {
		out = append(out, "passkey")
	}
	return out
}
