package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
)

// Errors of the second factor.
var (
	// errMFANotEnrolled reports a TOTP confirmation without a pending
	// enrolment.
	errMFANotEnrolled = refusal("mfa_not_enrolled", "auth: no TOTP enrolment")
	// errMFAAlreadyActive reports an enrolment while TOTP is active; disable
	// it first (after re-authentication).
	errMFAAlreadyActive = refusal("mfa_already_active", "auth: TOTP already active")
	// refusal "invalid_code" reports a wrong, malformed or replayed TOTP or
	// recovery code during enrolment; at login the answer is
	// ErrInvalidCredentials.
	errInvalidCode = refusal("invalid_code", "auth: invalid code")
	// errNoSealer reports TOTP use without Config.Sealer.
	errNoSealer = refusal("no_sealer", "auth: no SecretSealer configured")
)

// enrollingUser returns the user when it is active and has no active TOTP.
func (a *authenticator) enrollingUser(ctx context.Context, userID string) (*User, error) {
	u, err := a.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !u.Active() {
		return nil, errUserInactive
	}
	if u.MFA.TOTPActive {
		return nil, errMFAAlreadyActive
	}
	return u, nil
}

// EnrollTOTP starts TOTP enrolment for an active user: it generates a fresh
// secret, stores it sealed (not yet active), and returns the URI and QR code.
// TOTP becomes active only when ConfirmTOTP receives a first valid code.
// Enrolling again before confirmation replaces the pending secret. It fails
// with refusal "mfa_already_active" while TOTP is active.
func (a *authenticator) EnrollTOTP(ctx context.Context, userID string, origin audit.Origin) (*totp.Enrollment, error) {
	if a.cfg.Sealer == nil {
		return nil, errNoSealer
	}
	u, err := a.enrollingUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	c := &a.cfg.TOTP
	enr, err := c.Enroll(u.Name)
	if err != nil {
		return nil, err
	}
	sealed, err := a.cfg.Sealer.Seal(ctx, u.ID, []byte(enr.Secret()))
	if err != nil {
		return nil, fmt.Errorf("auth: seal TOTP secret: %w", err)
	}
	now := a.storeNow()
	_, err = a.modify(ctx, userID, func(u *User) error {
		if !u.Active() {
			return errUserInactive
		}
		if u.MFA.TOTPActive {
			return errMFAAlreadyActive
		}
		u.MFA = MFA{TOTPSecret: sealed, TOTPDigits: c.Digits, TOTPPeriod: int(c.Period / time.Second),
			TOTPAlgorithm: string(c.Algorithm), TOTPEnrolledAt: now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := a.record(ctx, audit.Event{Action: audit.ActionUserChanged, Outcome: audit.OutcomeSuccess,
		Reason: "totp_enrolment_started", Actor: audit.Actor{UserID: u.ID, TenantID: u.TenantID}, Origin: origin}); err != nil {
		return nil, err
	}
	return enr, nil
}

// ConfirmTOTP activates a pending enrolment with the first code from the
// user's app, ends the user's other sessions (keepSessionID survives when
// not empty), and returns the user's new recovery codes, which are shown
// once and stored only hashed (none when the tenant's policy does not allow
// recovery codes). A wrong code returns refusal "invalid_code" and
// counts as a failed attempt.
func (a *authenticator) ConfirmTOTP(ctx context.Context, userID, code, keepSessionID string, origin audit.Origin) ([]string, error) {
	u, err := a.enrollingUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	if len(u.MFA.TOTPSecret) == 0 {
		return nil, errMFANotEnrolled
	}
	codes, hashes, err := a.enrolmentRecoveryCodes(ctx, u)
	if err != nil {
		return nil, err
	}
	ok, err := a.useTOTP(ctx, u, code, nil, func(u *User) error {
		if u.MFA.TOTPActive {
			return errMFAAlreadyActive
		}
		u.MFA.TOTPActive = true
		u.MFA.RecoveryCodes = hashes
		return nil
	})
	actor := audit.Actor{UserID: u.ID, TenantID: u.TenantID}
	if err != nil {
		return nil, err
	}
	if !ok {
		if ferr := a.accountFailure(ctx, u.ID, "", actor, origin, audit.ActionMFAFailed, "invalid_code"); ferr != nil {
			return nil, ferr
		}
		return nil, errInvalidCode
	}
	if err := a.record(ctx, audit.Event{Action: audit.ActionMFAEnrolled, Outcome: audit.OutcomeSuccess,
		Reason: "totp_activated", Actor: actor, Origin: origin}); err != nil {
		return nil, err
	}
	if err := a.revoke(ctx, u.ID, keepSessionID); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP removes a user's TOTP secret and recovery codes (after the
// caller re-authenticated the user, or as an administrator's reset), and
// ends the user's other sessions.
func (a *authenticator) DisableTOTP(ctx context.Context, userID, keepSessionID string, actor audit.Actor, origin audit.Origin) error {
	u, err := a.modify(ctx, userID, func(u *User) error {
		u.MFA = MFA{}
		return nil
	})
	if err != nil {
		return err
	}
	if err := a.record(ctx, audit.Event{Action: audit.ActionMFAEnrolled, Outcome: audit.OutcomeSuccess,
		Reason: "totp_disabled", Actor: actor, Origin: origin,
		Target: audit.Target{RecordType: "user", RecordID: u.ID}}); err != nil {
		return err
	}
	return a.revoke(ctx, u.ID, keepSessionID)
}

// errRecoveryNotAllowed reports an administrator's reset of a second factor
// in a tenant whose policy does not allow policy.RecoveryAdminReset.
var errRecoveryNotAllowed = refusal("recovery_not_allowed", "auth: recovery method not allowed by the tenant policy")

// AdminResetMFA is an administrator's reset of a user's lost second factor:
// allowed only when the tenant's policy lists policy.RecoveryAdminReset
// (otherwise refusal "recovery_not_allowed", audited as a failure), it removes the
// TOTP secret and recovery codes (the user enrols again at the next login),
// is audited as mfa_enrolled/"admin_reset" and ends every session of the
// user. actor is the administrator, who cannot reset its own second factor
// (refusal "self_administration").
func (a *authenticator) AdminResetMFA(ctx context.Context, userID string, actor audit.Actor, origin audit.Origin) error {
	if err := a.refuseSelf(ctx, audit.ActionMFAEnrolled, userID, actor, origin); err != nil {
		return err
	}
	u, err := a.users.Get(ctx, userID)
	if err != nil {
		return err
	}
	tp, err := a.tenantPolicy(ctx, u.TenantID)
	if err != nil {
		return err
	}
	if !tp.AllowsRecovery(policy.RecoveryAdminReset) {
		return a.refuse(ctx, audit.ActionMFAEnrolled, "admin_reset_not_allowed", u.ID, actor, origin, errRecoveryNotAllowed)
	}
	u, err = a.modify(ctx, userID, func(u *User) error {
		if u.Status == StatusRemoved {
			return errUserInactive
		}
		u.MFA = MFA{}
		return nil
	})
	if err != nil {
		return err
	}
	if err := a.record(ctx, a.userEvent(audit.ActionMFAEnrolled, "admin_reset", u, actor, origin)); err != nil {
		return err
	}
	return a.revoke(ctx, u.ID, "")
}

// useTOTP checks code against u's secret and, when it matches a step after
// the last accepted one, stores that step (and applies also) with
// compare-and-swap. Two concurrent submissions of one code: exactly one
// stores the step, the other re-reads the user, sees the step used and
// fails. It returns false for a wrong, malformed or replayed code, and when
// guard (if not nil) refuses the user as read for an attempt.
func (a *authenticator) useTOTP(ctx context.Context, u *User, code string, guard func(*User) bool, also func(*User) error) (bool, error) {
	if a.cfg.Sealer == nil {
		return false, errNoSealer
	}
	defer a.lockUser(u.ID)()
	for range maxCASRetries {
		m := u.MFA
		if len(m.TOTPSecret) == 0 || m.TOTPPeriod <= 0 || (guard != nil && !guard(u)) {
			return false, nil
		}
		p, err := storedTOTPParams(&m)
		if err != nil {
			return false, fmt.Errorf("auth: stored TOTP enrolment: %w", err)
		}
		c, ok := totp.ParseCode(code, m.TOTPDigits)
		if !ok {
			return false, nil
		}
		secret, err := a.cfg.Sealer.Open(ctx, u.ID, m.TOTPSecret)
		if err != nil {
			return false, fmt.Errorf("auth: open TOTP secret: %w", err)
		}
		step, err := p.Match(string(secret), c, a.cfg.TOTP.Skew, a.clock.Now())
		clear(secret)
		if err != nil {
			return false, totpRefusal(err)
		}
		if step < 0 || step <= m.TOTPLastStep {
			return false, nil
		}
		u.MFA.TOTPLastStep = step
		if also != nil {
			if err := also(u); err != nil {
				return false, err
			}
		}
		u.UpdatedAt = a.storeNow()
		err = a.users.Update(ctx, u)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return false, err
		}
		if u, err = a.users.Get(ctx, u.ID); err != nil {
			return false, err
		}
	}
	return false, ErrVersionConflict
}
