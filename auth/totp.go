package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
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

// TOTPConfig configures TOTP (RFC 6238). Zero fields take the defaults given.
type TOTPConfig struct {
	// Issuer is the service name the authenticator app shows (default
	// "hipaakit").
	Issuer string
	// Digits per code: 6 (default) or 8.
	Digits int
	// Period is the time step (default 30s; whole seconds, 15s to 2m).
	Period time.Duration
	// Skew is how many steps before and after the current one are accepted
	// (default 1; 0 accepts the current step only). Set NoSkew to choose 0.
	Skew int
	// NoSkew makes the zero Skew mean 0 instead of the default 1.
	NoSkew bool
	// SecretBytes is the secret's size (default 20 bytes = 160 bits, the
	// minimum accepted; at most 64).
	SecretBytes int
	// QRSize is the QR code's width and height in pixels (default 256).
	QRSize int
	// Algorithm is the HMAC hash of new enrolments (default TOTPSHA1, the
	// one every authenticator app supports).
	Algorithm TOTPAlgorithm

	alg otp.Algorithm
}

const minTOTPSecretBytes = 20 // 160 bits, RFC 4226 and NIST SP 800-63B

func (c *TOTPConfig) setDefaults() error {
	if c.Issuer == "" {
		c.Issuer = "hipaakit"
	}
	if c.Digits == 0 {
		c.Digits = 6
	}
	if c.Period == 0 {
		c.Period = 30 * time.Second
	}
	if c.Skew == 0 && !c.NoSkew {
		c.Skew = 1
	}
	if c.SecretBytes == 0 {
		c.SecretBytes = minTOTPSecretBytes
	}
	if c.QRSize == 0 {
		c.QRSize = 256
	}
	if c.Algorithm == "" {
		c.Algorithm = TOTPSHA1
	}
	alg, algOK := c.Algorithm.otpAlgorithm()
	c.alg = alg
	switch {
	case !algOK:
		return errors.New("auth: TOTP algorithm must be SHA1, SHA256 or SHA512")
	case c.Digits != 6 && c.Digits != 8:
		return errors.New("auth: TOTP digits must be 6 or 8")
	case c.Period < 15*time.Second || c.Period > 2*time.Minute || c.Period%time.Second != 0:
		return errors.New("auth: TOTP period must be whole seconds from 15s to 2m")
	case c.Skew < 0 || c.Skew > 10:
		return errors.New("auth: TOTP skew must be 0..10 steps")
	case c.SecretBytes < minTOTPSecretBytes || c.SecretBytes > 64:
		return errors.New("auth: TOTP secret must be 20..64 bytes")
	case c.QRSize < 64 || c.QRSize > 2048:
		return errors.New("auth: TOTP QR size must be 64..2048 pixels")
	}
	return nil
}

// Enrollment is what a user needs to set up an authenticator app. It holds
// the secret, so it prints, logs and encodes as a redaction; its contents
// come out only through the accessor methods, to be sent to the enrolling
// user alone, over the authenticated session.
type Enrollment struct {
	uri    string
	secret string
	qr     []byte
}

// URI returns the otpauth:// key URI (it contains the secret).
func (e *Enrollment) URI() string { return e.uri }

// Secret returns the base32 secret, for manual entry into the app.
func (e *Enrollment) Secret() string { return e.secret }

// QRCodePNG returns a PNG image of a QR code of the URI.
func (e *Enrollment) QRCodePNG() []byte { return e.qr }

// String redacts the enrolment.
func (e Enrollment) String() string { return "auth.Enrollment{[redacted]}" }

// GoString redacts the enrolment.
func (e Enrollment) GoString() string { return e.String() }

// LogValue redacts the enrolment.
func (e Enrollment) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalJSON redacts the enrolment; build the response from the accessors.
func (e Enrollment) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

func (c *TOTPConfig) digits() otp.Digits { return otp.Digits(c.Digits) }

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
func (a *authenticator) EnrollTOTP(ctx context.Context, userID string, origin audit.Origin) (*Enrollment, error) {
	if a.cfg.Sealer == nil {
		return nil, errNoSealer
	}
	u, err := a.enrollingUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	c := &a.cfg.TOTP
	key, err := totp.Generate(totp.GenerateOpts{Issuer: c.Issuer, AccountName: u.Name,
		Period: uint(c.Period / time.Second), SecretSize: uint(c.SecretBytes), Digits: c.digits(),
		Algorithm: c.alg})
	if err != nil {
		return nil, fmt.Errorf("auth: TOTP key: %w", err)
	}
	img, err := key.Image(c.QRSize, c.QRSize)
	if err != nil {
		return nil, fmt.Errorf("auth: TOTP QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("auth: TOTP QR code: %w", err)
	}
	sealed, err := a.cfg.Sealer.Seal(ctx, u.ID, []byte(key.Secret()))
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
	return &Enrollment{uri: key.URL(), secret: key.Secret(), qr: qr.Bytes()}, nil
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
// in a tenant whose policy does not allow RecoveryAdminReset.
var errRecoveryNotAllowed = refusal("recovery_not_allowed", "auth: recovery method not allowed by the tenant policy")

// AdminResetMFA is an administrator's reset of a user's lost second factor:
// allowed only when the tenant's policy lists RecoveryAdminReset
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
	if !tp.AllowsRecovery(RecoveryAdminReset) {
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

// parseTOTPCode accepts exactly digits ASCII digits, ignoring spaces (apps
// show "123 456"). It never echoes the input.
func parseTOTPCode(s string, digits int) (string, bool) {
	if len(s) > 2*maxTOTPDigits {
		return "", false
	}
	var b [maxTOTPDigits]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
		case c >= '0' && c <= '9' && n < digits && n < maxTOTPDigits:
			b[n] = c
			n++
		default:
			return "", false
		}
	}
	if n != digits {
		return "", false
	}
	return string(b[:n]), true
}

const maxTOTPDigits = 8

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
		c, ok := parseTOTPCode(code, m.TOTPDigits)
		if !ok {
			return false, nil
		}
		secret, err := a.cfg.Sealer.Open(ctx, u.ID, m.TOTPSecret)
		if err != nil {
			return false, fmt.Errorf("auth: open TOTP secret: %w", err)
		}
		step, err := matchTOTP(string(secret), c, p, a.cfg.TOTP.Skew, a.clock.Now())
		clear(secret)
		if err != nil {
			return false, err
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
