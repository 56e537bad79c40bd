package passkey

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config configures WebAuthn passkeys (auth.Config.Passkeys). The zero
// value disables them: every passkey operation fails with ErrDisabled.
type Config struct {
	// RPID is the relying party ID, the registrable domain the credentials
	// are bound to ("clinic.example"). Setting it enables passkeys.
	RPID string
	// RPName is the name browsers show (default RPID).
	RPName string
	// Origins are the exact origins ceremonies may come from
	// ("https://clinic.example"); required with RPID. Every origin's host
	// must be RPID or a subdomain of it; an assertion from any other origin
	// is refused.
	Origins []string
	// AllowUnverified accepts authenticators that prove presence but not
	// the user's identity (a security key without a PIN). Zero: user
	// verification (biometrics or PIN) is required at registration and at
	// every login. A tenant's policy.Tenant.PasskeyUserVerification
	// overrides it for the tenant's users.
	AllowUnverified bool
	// ChallengeTTL bounds how long a begun ceremony may be finished
	// (default 5 minutes, at most 10). Challenges are signed with
	// auth.Config.ChallengeKey, so that any replica sharing it finishes a
	// ceremony another began, and each is used at most once (recorded in
	// the shared auth.Config.Attempts store).
	ChallengeTTL time.Duration
	// AAGUIDs, when not empty, is the allow-list of authenticator models
	// (16-byte AAGUIDs) that may be registered. Attestation is always
	// "none": the AAGUID is as reported by the authenticator, not proved.
	AAGUIDs [][]byte
}

// Errors of the passkey ceremonies.
var (
	// ErrDisabled reports a passkey operation on an auth.Service whose
	// Config.Passkeys has no RPID.
	ErrDisabled = errors.New("auth/passkey: passkeys are not configured (Config.Passkeys.RPID)")
	// ErrRefused matches every refused passkey response; the *Error says
	// why.
	ErrRefused = errors.New("auth/passkey: refused")
	// ErrNotFound reports a credential the user does not have.
	ErrNotFound = errors.New("auth/passkey: not found")
)

// Error is a refused passkey ceremony. Reason is a short code that
// is also the audit reason: "malformed" (not a WebAuthn response),
// "unknown_challenge" (never issued, already used, or for another user or
// ceremony), "expired", "verification_failed" (signature, origin, RP ID,
// flags or user verification), "unknown_credential", "cloned" (the sign
// counter did not increase), "aaguid_not_allowed", "duplicate",
// "too_many", "bad_name", "user_inactive". A refused login also matches
// auth.ErrInvalidCredentials. The message never quotes the response.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "auth/passkey: refused: " + e.Reason }

// Is makes the error match ErrRefused.
func (e *Error) Is(target error) bool { return target == ErrRefused }

const (
	defaultChallengeTTL = 5 * time.Minute
	maxChallengeTTL     = 10 * time.Minute
)

// Check validates a configuration with an RPID and fills in the defaults
// of its zero fields. auth.New calls it.
func (c *Config) Check() error {
	if c.ChallengeTTL == 0 {
		c.ChallengeTTL = defaultChallengeTTL
	}
	if c.ChallengeTTL < 0 || c.ChallengeTTL > maxChallengeTTL {
		return errors.New("auth/passkey: ChallengeTTL must be between 0 and 10 minutes")
	}
	if c.RPName == "" {
		c.RPName = c.RPID
	}
	if len(c.Origins) == 0 {
		return errors.New("auth/passkey: Origins is required with RPID")
	}
	for i, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("auth/passkey: Origins[%d] is not an origin (scheme://host[:port])", i)
		}
		h := u.Hostname()
		if h != c.RPID && !strings.HasSuffix(h, "."+c.RPID) {
			return fmt.Errorf("auth/passkey: Origins[%d] is not within the RPID", i)
		}
		if u.Scheme != "https" && h != "localhost" {
			return fmt.Errorf("auth/passkey: Origins[%d] must be https (or localhost)", i)
		}
	}
	for i, a := range c.AAGUIDs {
		if len(a) != 16 {
			return fmt.Errorf("auth/passkey: AAGUIDs[%d] is not 16 bytes", i)
		}
	}
	return nil
}
