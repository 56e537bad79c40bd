package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit/audit"
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
// SecondFactorRequired. Exactly one of TOTPCode and RecoveryCode is set. It
// prints and logs without the codes.
type SecondFactorRequest struct {
	// Challenge is LoginResult.Challenge from the password step.
	Challenge    string
	TOTPCode     string
	RecoveryCode string
	ClientKey    string
	Origin       audit.Origin
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
	// (SessionManager.Begin(ctx, w, r, res.User, res.MFA)).
	Authenticated bool
	// MFA is true when a second factor was verified.
	MFA bool
	// SecondFactorRequired is true when the password was right and the user
	// has TOTP: nothing is authenticated yet. Ask for a code and call
	// VerifySecondFactor with Challenge within ChallengeTTL.
	SecondFactorRequired bool
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
//  1. refuses with a *ThrottledError (ErrThrottled) while the client key or
//     the account name is in back-off, before any hashing;
//  2. hashes the password once whatever happens, against the user's hash,
//     or against a dummy when the user is unknown, disabled, removed or
//     locked, and compares in constant time, so that every failure takes
//     the same time and returns the same ErrInvalidCredentials;
//  3. re-hashes the password when the stored parameters are outdated;
//  4. when the user has TOTP: verifies TOTPCode or RecoveryCode if given,
//     else returns SecondFactorRequired with a Challenge;
//  5. resets the failure counter on success and audits every attempt
//     (actions login, login_failed, mfa_failed, lockout; reasons such as
//     "unknown_user", "wrong_password", "account_locked", "throttled"), never
//     with the password or a code. An event that cannot be written fails
//     the login.
//
// Errors: ErrInvalidCredentials for every credential failure, ErrThrottled,
// or an operational error (store, audit, context) that is none of those.
func (a *Authenticator) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
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
	if nerr == nil && ValidTenantID(req.TenantID) {
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
		if _, inMemory := a.attempts.(*MemoryAttemptStore); inMemory {
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
	password := req.Password
	if len(password) > maxPasswordBytes {
		password, usable = "", false
	}
	ok, rehash, err := a.hasher.Verify(ctx, password, hash)
	if err != nil && !errors.Is(err, ErrMalformedHash) {
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
	if u.MFA.TOTPActive {
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
			return &LoginResult{User: u, SecondFactorRequired: true, Challenge: ch}, nil
		}
		return a.secondFactor(ctx, u, req.TOTPCode, req.RecoveryCode, req.ClientKey, base, nil)
	}
	return a.succeed(ctx, u, false, false, false, req.ClientKey, base)
}

// VerifySecondFactor completes a login with a TOTP code or a recovery code
// after Login answered SecondFactorRequired. A wrong or replayed code, an
// expired or forged challenge, or a recovery code the tenant's policy does
// not allow, returns ErrInvalidCredentials and counts as a failed attempt.
func (a *Authenticator) VerifySecondFactor(ctx context.Context, req SecondFactorRequest) (*LoginResult, error) {
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
	if !u.Active() || u.Lockout.Locked() || !u.MFA.TOTPActive || !u.PasswordChangedAt.Equal(c.pwChanged) || !c.unused(u) {
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
	return a.secondFactor(ctx, fresh, req.TOTPCode, req.RecoveryCode, req.ClientKey, base, c.unused)
}

// secondFactor verifies the code for a user whose password step passed.
// guard, when not nil, must accept the user as read before each attempt
// (the challenge is still unused).
func (a *Authenticator) secondFactor(ctx context.Context, u *User, totpCode, recoveryCode, clientKey string, base audit.Event, guard func(*User) bool) (*LoginResult, error) {
	base.Action = audit.ActionMFAFailed
	var ok, recovery bool
	var err error
	switch {
	case totpCode != "" && recoveryCode == "":
		// The used step and the reset of the failure counter are one
		// compare-and-swap: the winner of concurrent submissions of one
		// code is never undone by a second write losing to the others.
		ok, err = a.useTOTP(ctx, u, totpCode, guard, func(u *User) error {
			if u.Lockout.Locked() {
				return errLockedMeanwhile
			}
			u.Lockout = LockoutState{}
			return nil
		})
		if errors.Is(err, errLockedMeanwhile) {
			return nil, a.reservedFailure(ctx, u.ID, clientKey, base, "account_locked")
		}
	case recoveryCode != "" && totpCode == "":
		tp, perr := a.tenantPolicy(ctx, u.TenantID)
		if perr != nil {
			return nil, perr
		}
		if !tp.AllowsRecovery(RecoveryCodes) {
			return nil, a.reservedFailure(ctx, u.ID, clientKey, base, "recovery_not_allowed")
		}
		recovery = true
		ok, err = a.useRecoveryCode(ctx, u, recoveryCode, guard)
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
	return a.succeed(ctx, fresh, true, recovery, !recovery, clientKey, base)
}

// errLockedMeanwhile aborts a second-factor compare-and-swap on an account
// that concurrent failures locked.
var errLockedMeanwhile = errors.New("auth: account locked")

// succeed resets the failure counters (unless reset, when the second
// factor's compare-and-swap already did) and audits the login.
func (a *Authenticator) succeed(ctx context.Context, u *User, mfa, recovery, reset bool, clientKey string, base audit.Event) (*LoginResult, error) {
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
		MFAEnrollmentRequired: tp.RequireMFA && !u.MFA.TOTPActive,
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

// reserveClient counts an attempt against the client key before its
// credentials are checked, or refuses it while the key is in back-off.
func (a *Authenticator) reserveClient(ctx context.Context, clientKey string, now time.Time, base audit.Event) error {
	if clientKey == "" {
		return nil
	}
	w, err := a.attempts.Reserve(ctx, attemptKey(clientThrottleKey(clientKey)), now, a.cfg.Lockout.ForgetAfter, a.waitFunc(a.cfg.Lockout.ClientFreeFailures, now))
	if err != nil {
		return err
	}
	if w > 0 {
		return a.throttled(ctx, clientThrottleKey(clientKey), base, w)
	}
	return nil
}

// releaseClient gives back the client key's reservation of an attempt that
// succeeded or was not decided (err, returned unchanged, or nil).
func (a *Authenticator) releaseClient(ctx context.Context, clientKey string, err error) error {
	if clientKey == "" {
		return err
	}
	if rerr := a.attempts.Release(ctx, attemptKey(clientThrottleKey(clientKey))); err == nil {
		err = rerr
	}
	return err
}

// waitFunc is the AttemptStore question "how long must an attempt at now
// still wait" with free failures passing.
func (a *Authenticator) waitFunc(free int, now time.Time) func(int, time.Time) time.Duration {
	return func(n int, last time.Time) time.Duration { return a.cfg.Lockout.wait(n, free, last, now) }
}

// failure counts a failed attempt against the client key and, when userID
// is set, against the account (locking it at MaxFailures), audits it and
// returns ErrInvalidCredentials (or the audit error).
func (a *Authenticator) failure(ctx context.Context, userID, clientKey string, base audit.Event, reason string) error {
	if err := a.accountFailure(ctx, userID, clientKey, base.Actor, base.Origin, base.Action, reason); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// accountFailure records one failed authentication; see failure.
func (a *Authenticator) accountFailure(ctx context.Context, userID, clientKey string, actor audit.Actor, origin audit.Origin, action audit.Action, reason string) error {
	return a.countFailure(ctx, userID, clientKey, false, actor, origin, action, reason)
}

// reservedFailure is failure for an attempt that reserve already counted.
func (a *Authenticator) reservedFailure(ctx context.Context, userID, clientKey string, base audit.Event, reason string) error {
	if err := a.countFailure(ctx, userID, clientKey, true, base.Actor, base.Origin, base.Action, reason); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// reserve counts an attempt on userID's account before its credentials are
// checked, on the freshest record: concurrent attempts each take their own
// count, so a burst cannot pass the lockout or the back-off with a stale
// copy, and at most MaxFailures attempts are ever checked. When the count
// has reached MaxFailures it locks the account instead (audited). It
// returns the fresh user, or the back-off still to wait (nothing counted).
// Success resets the count (succeed), failure keeps it (reservedFailure),
// and release gives it back.
func (a *Authenticator) reserve(ctx context.Context, userID string, now time.Time, base audit.Event) (*User, time.Duration, error) {
	var wait time.Duration
	lockedNow := false
	u, err := a.modify(ctx, userID, func(u *User) error {
		wait, lockedNow = 0, false
		if !u.Active() || u.Lockout.Locked() {
			return nil
		}
		if w := a.cfg.Lockout.wait(u.Lockout.Failures, a.cfg.Lockout.FreeFailures, u.Lockout.LastFailure, now); w > 0 {
			wait = w
			return errNoChange
		}
		perm, err := a.permanentLock(ctx, u.TenantID, u.Lockout.Failures)
		if err != nil {
			return err
		}
		if perm {
			u.Lockout.LockedAt = a.storeNow()
			lockedNow = true
			return nil
		}
		u.Lockout.Failures++
		u.Lockout.LastFailure = a.storeNow()
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil, wait, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if lockedNow {
		if err := a.record(ctx, audit.Event{Action: audit.ActionLockout, Outcome: audit.OutcomeSuccess,
			Reason: "max_failures", Actor: base.Actor, Origin: base.Origin,
			Attrs: map[string]string{"failures": fmt.Sprint(a.cfg.Lockout.MaxFailures)}}); err != nil {
			return nil, 0, err
		}
	}
	return u, 0, nil
}

// release gives back an attempt reserve counted that turned out not to be
// a failure (a right password that still needs its second factor).
func (a *Authenticator) release(ctx context.Context, userID string) error {
	_, err := a.modify(ctx, userID, func(u *User) error {
		if u.Lockout.Locked() || u.Lockout.Failures == 0 {
			return errNoChange
		}
		u.Lockout.Failures--
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// permanentLock reports whether failures consecutive failures lock an
// account of tenantID for good: only when the tenant chose
// TenantPolicy.PermanentLockout and failures reached MaxFailures. Without
// it the back-off alone slows guessing (capped at MaxDelay), so that no one
// can lock another user out.
func (a *Authenticator) permanentLock(ctx context.Context, tenantID string, failures int) (bool, error) {
	if failures < a.cfg.Lockout.MaxFailures {
		return false, nil
	}
	tp, err := a.tenantPolicy(ctx, tenantID)
	if err != nil {
		return false, err
	}
	return tp.PermanentLockout, nil
}

// errNoChange aborts a modify that has nothing to store.
var errNoChange = errors.New("auth: no change")

// countFailure records a failed attempt: it counts it (unless reserve did),
// locks the account when the count reaches MaxFailures, and audits both.
func (a *Authenticator) countFailure(ctx context.Context, userID, clientKey string, reserved bool, actor audit.Actor, origin audit.Origin, action audit.Action, reason string) error {
	now := a.clock.Now()
	if clientKey != "" && !reserved {
		// Counted even in back-off: this attempt was already checked.
		if _, err := a.attempts.Reserve(ctx, attemptKey(clientThrottleKey(clientKey)), now, a.cfg.Lockout.ForgetAfter,
			func(int, time.Time) time.Duration { return 0 }); err != nil {
			return err
		}
	}
	lockedNow := false
	if userID != "" {
		// A reserved attempt was counted already: nothing is written
		// unless it locks the account, so that a known account's failure
		// costs one durable write, like an unknown name's.
		_, err := a.modify(ctx, userID, func(u *User) error {
			lockedNow = false
			changed := false
			if !reserved {
				u.Lockout.Failures++
				u.Lockout.LastFailure = a.storeNow()
				changed = true
			}
			perm, err := a.permanentLock(ctx, u.TenantID, u.Lockout.Failures)
			if err != nil {
				return err
			}
			if perm && !u.Lockout.Locked() {
				u.Lockout.LockedAt = a.storeNow()
				lockedNow = true
				changed = true
			}
			if !changed {
				return errNoChange
			}
			return nil
		})
		if err != nil && !errors.Is(err, errNoChange) {
			return err
		}
	}
	if err := a.record(ctx, audit.Event{Action: action, Outcome: audit.OutcomeFailure, Reason: reason,
		Actor: actor, Origin: origin}); err != nil {
		return err
	}
	if lockedNow {
		return a.record(ctx, audit.Event{Action: audit.ActionLockout, Outcome: audit.OutcomeSuccess,
			Reason: "max_failures", Actor: actor, Origin: origin,
			Attrs: map[string]string{"failures": fmt.Sprint(a.cfg.Lockout.MaxFailures)}})
	}
	return nil
}

// rehash stores a fresh hash under the current parameters; a failure is
// logged and does not fail the login.
func (a *Authenticator) rehash(ctx context.Context, u *User, password string) {
	enc, err := a.hasher.Hash(ctx, password)
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
	if ValidTenantID(t) {
		return t
	}
	return ""
}
