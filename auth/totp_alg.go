package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/totp"
)

// refusal "weak_totp_secret" reports a TOTP secret shorter than 128 bits, whether
// offered for import or found in a stored enrolment.
var errWeakTOTPSecret = refusal("weak_totp_secret", "auth: TOTP secret shorter than 128 bits")

// refusal "invalid_totp_params" reports an unknown algorithm, digit count or period,
// in an import or in a stored enrolment.
var errInvalidTOTPParams = refusal("invalid_totp_params", "auth: invalid TOTP parameters")

// storedTOTPParams returns the checked parameters of a stored enrolment.
func storedTOTPParams(m *MFA) (totp.Params, error) {
	p, err := totp.NewParams(totp.Algorithm(m.TOTPAlgorithm), m.TOTPDigits, m.TOTPPeriod)
	return p, totpRefusal(err)
}

// totpRefusal turns an error of package totp into this package's
// refusal with the same meaning, keeping the detail.
func totpRefusal(err error) error {
	switch {
	case errors.Is(err, totp.ErrWeakSecret):
		return errWeakTOTPSecret
	case errors.Is(err, totp.ErrInvalidParams):
		return fmt.Errorf("%w%s", errInvalidTOTPParams, strings.TrimPrefix(err.Error(), totp.ErrInvalidParams.Error()))
	}
	return err
}

// ImportTOTP gives an active user an existing TOTP secret with its
// algorithm, digits and period (a migration from another system): the
// secret is sealed and active at once, since the user's app already has it.
// Any previous enrolment and recovery codes are replaced, the user's
// sessions end, and the new recovery codes are returned (none when the
// tenant's policy does not allow them). A secret under 128 bits fails with
// refusal "weak_totp_secret", bad parameters with refusal "invalid_totp_params". actor is the
// administrator performing the import.
func (a *authenticator) ImportTOTP(ctx context.Context, userID string, imp totp.Import, actor audit.Actor, origin audit.Origin) ([]string, error) {
	if a.cfg.Sealer == nil {
		return nil, errNoSealer
	}
	p, err := imp.Params()
	if err != nil {
		return nil, totpRefusal(err)
	}
	raw, err := totp.DecodeSecret(imp.Secret)
	if err != nil {
		return nil, totpRefusal(err)
	}
	// Store the canonical form, the one EnrollTOTP stores.
	secret := totp.CanonicalSecret(raw)
	clear(raw)
	defer clear(secret)
	u, err := a.users.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !u.Active() {
		return nil, errUserInactive
	}
	codes, hashes, err := a.enrolmentRecoveryCodes(ctx, u)
	if err != nil {
		return nil, err
	}
	sealed, err := a.cfg.Sealer.Seal(ctx, u.ID, secret)
	if err != nil {
		return nil, fmt.Errorf("auth: seal TOTP secret: %w", err)
	}
	now := a.storeNow()
	u, err = a.modify(ctx, userID, func(u *User) error {
		if !u.Active() {
			return errUserInactive
		}
		u.MFA = MFA{TOTPSecret: sealed, TOTPActive: true, TOTPDigits: p.Digits, TOTPPeriod: p.PeriodSec,
			TOTPAlgorithm: string(p.Algorithm), TOTPEnrolledAt: now, RecoveryCodes: hashes}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := a.record(ctx, a.userEvent(audit.ActionMFAEnrolled, "totp_imported", u, actor, origin)); err != nil {
		return nil, err
	}
	if err := a.revoke(ctx, u.ID, ""); err != nil {
		return nil, err
	}
	return codes, nil
}
