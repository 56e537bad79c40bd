package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TOTPAlgorithm is the HMAC hash of a TOTP secret (RFC 6238 section 1.2).
// Its value is what the user record stores in totp_algorithm.
type TOTPAlgorithm string

// TOTP algorithms. SHA1 is the default and the only one every authenticator
// app supports; SHA256 and SHA512 exist for imported secrets and for apps
// that support them.
const (
	TOTPSHA1   TOTPAlgorithm = "SHA1"
	TOTPSHA256 TOTPAlgorithm = "SHA256"
	TOTPSHA512 TOTPAlgorithm = "SHA512"
)

// refusal "weak_totp_secret" reports a TOTP secret shorter than 128 bits, whether
// offered for import or found in a stored enrolment.
var errWeakTOTPSecret = refusal("weak_totp_secret", "auth: TOTP secret shorter than 128 bits")

// refusal "invalid_totp_params" reports an unknown algorithm, digit count or period,
// in an import or in a stored enrolment.
var errInvalidTOTPParams = refusal("invalid_totp_params", "auth: invalid TOTP parameters")

// minTOTPImportBytes is the smallest secret accepted anywhere (128 bits);
// new enrolments use at least minTOTPSecretBytes.
const minTOTPImportBytes = 16

// maxTOTPSecretBytes bounds every secret (SHA512's block size, twice RFC
// 6238's SHA512 test seed).
const maxTOTPSecretBytes = 128

// otpAlgorithm maps alg to the otp library's value.
func (alg TOTPAlgorithm) otpAlgorithm() (otp.Algorithm, bool) {
	switch alg {
	case TOTPSHA1:
		return otp.AlgorithmSHA1, true
	case TOTPSHA256:
		return otp.AlgorithmSHA256, true
	case TOTPSHA512:
		return otp.AlgorithmSHA512, true
	}
	return 0, false
}

// totpParams are the checked parameters of one enrolment.
type totpParams struct {
	alg       otp.Algorithm
	digits    int
	periodSec int
}

// newTOTPParams checks an algorithm, digit count and period (seconds).
func newTOTPParams(alg TOTPAlgorithm, digits, periodSec int) (totpParams, error) {
	a, ok := alg.otpAlgorithm()
	switch {
	case !ok:
		return totpParams{}, fmt.Errorf("%w: unknown algorithm", errInvalidTOTPParams)
	case digits != 6 && digits != 8:
		return totpParams{}, fmt.Errorf("%w: digits must be 6 or 8", errInvalidTOTPParams)
	case periodSec < 15 || periodSec > 120:
		return totpParams{}, fmt.Errorf("%w: period must be 15..120 seconds", errInvalidTOTPParams)
	}
	return totpParams{alg: a, digits: digits, periodSec: periodSec}, nil
}

// storedTOTPParams returns the checked parameters of a stored enrolment.
func storedTOTPParams(m *MFA) (totpParams, error) {
	return newTOTPParams(TOTPAlgorithm(m.TOTPAlgorithm), m.TOTPDigits, m.TOTPPeriod)
}

// decodeTOTPSecret decodes a base32 secret as authenticator apps write it
// (any case, spaces and padding optional) and refuses one under 128 bits.
func decodeTOTPSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimRight(s, "="), " ", ""))
	if len(s) > base32.StdEncoding.EncodedLen(maxTOTPSecretBytes) {
		return nil, fmt.Errorf("%w: secret longer than %d bytes", errInvalidTOTPParams, maxTOTPSecretBytes)
	}
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not base32", errInvalidTOTPParams)
	}
	if len(b) > maxTOTPSecretBytes {
		clear(b)
		return nil, fmt.Errorf("%w: secret longer than %d bytes", errInvalidTOTPParams, maxTOTPSecretBytes)
	}
	if len(b) < minTOTPImportBytes {
		clear(b)
		return nil, errWeakTOTPSecret
	}
	return b, nil
}

// matchTOTP returns the time step within ±skew of now whose code under p
// equals code, comparing every candidate in constant time, or -1. A secret
// that is not base32 or is shorter than 128 bits is an error
// (refusal "weak_totp_secret"), so that an enrolment written by another path with a
// weak secret never signs anyone in.
func matchTOTP(secret, code string, p totpParams, skew int, now time.Time) (int64, error) {
	raw, err := decodeTOTPSecret(secret)
	if err != nil {
		return -1, err
	}
	secret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw) // the form hotp decodes
	clear(raw)
	cur := now.Unix() / int64(p.periodSec)
	opts := hotp.ValidateOpts{Digits: otp.Digits(p.digits), Algorithm: p.alg}
	found := int64(-1)
	for s := cur - int64(skew); s <= cur+int64(skew); s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), opts)
		if err != nil {
			return -1, errors.New("auth: TOTP secret unusable")
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found < 0 {
			found = s
		}
	}
	return found, nil
}

// TOTPImport is an existing TOTP enrolment brought from another system, so
// that its users keep their authenticator app entries. It holds the secret:
// it prints, logs and encodes as a redaction.
type TOTPImport struct {
	// Secret is the base32 secret (as in an otpauth:// URI; any case,
	// spaces and padding optional); at least 128 bits.
	Secret string
	// Algorithm defaults to TOTPSHA1.
	Algorithm TOTPAlgorithm
	// Digits is 6 (default) or 8.
	Digits int
	// Period is the time step (default 30s; whole seconds, 15s to 2m).
	Period time.Duration
}

// String redacts the import.
func (TOTPImport) String() string { return "auth.TOTPImport{[redacted]}" }

// GoString redacts the import.
func (t TOTPImport) GoString() string { return t.String() }

// MarshalJSON redacts the import.
func (TOTPImport) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// params checks imp and returns its parameters with the defaults applied.
func (imp *TOTPImport) params() (totpParams, TOTPAlgorithm, error) {
	alg, digits, period := imp.Algorithm, imp.Digits, imp.Period
	if alg == "" {
		alg = TOTPSHA1
	}
	if digits == 0 {
		digits = 6
	}
	if period == 0 {
		period = 30 * time.Second
	}
	if period%time.Second != 0 {
		return totpParams{}, "", fmt.Errorf("%w: period must be whole seconds", errInvalidTOTPParams)
	}
	p, err := newTOTPParams(alg, digits, int(period/time.Second))
	return p, alg, err
}

// ImportTOTP gives an active user an existing TOTP secret with its
// algorithm, digits and period (a migration from another system): the
// secret is sealed and active at once, since the user's app already has it.
// Any previous enrolment and recovery codes are replaced, the user's
// sessions end, and the new recovery codes are returned (none when the
// tenant's policy does not allow them). A secret under 128 bits fails with
// refusal "weak_totp_secret", bad parameters with refusal "invalid_totp_params". actor is the
// administrator performing the import.
func (a *authenticator) ImportTOTP(ctx context.Context, userID string, imp TOTPImport, actor audit.Actor, origin audit.Origin) ([]string, error) {
	if a.cfg.Sealer == nil {
		return nil, errNoSealer
	}
	p, alg, err := imp.params()
	if err != nil {
		return nil, err
	}
	raw, err := decodeTOTPSecret(imp.Secret)
	if err != nil {
		return nil, err
	}
	// Store the canonical form, the one EnrollTOTP stores.
	secret := []byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
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
		u.MFA = MFA{TOTPSecret: sealed, TOTPActive: true, TOTPDigits: p.digits, TOTPPeriod: p.periodSec,
			TOTPAlgorithm: string(alg), TOTPEnrolledAt: now, RecoveryCodes: hashes}
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
