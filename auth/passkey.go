package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/hipaakit/hipaakit/auth/policy"
	"slices"
	"time"
	"unicode/utf8"
)

// Passkey is one WebAuthn credential registered by a user (a platform
// passkey unlocked by the device's biometrics or a security key). A user
// holds up to MaxPasskeys of them, each with a name of the user's choice.
//
// Nothing in a Passkey is secret: the private key never leaves the
// authenticator. The public key and the sign counter are what the server
// checks an assertion against. Raw attestation is never kept.
type Passkey struct {
	// ID is the credential ID the authenticator chose (at most 1023 bytes).
	ID []byte `json:"id"`
	// Name is the user's label for the credential ("work laptop").
	Name string `json:"name"`
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte `json:"public_key"`
	// SignCount is the last signature counter seen; 0 for authenticators
	// that do not count (most synced passkeys).
	SignCount uint32 `json:"sign_count,omitempty"`
	// AAGUID identifies the authenticator model (16 bytes, zeros for
	// attestation "none" from many platforms).
	AAGUID []byte `json:"aaguid,omitempty"`
	// UserVerified reports whether the registration verified the user
	// (biometrics or PIN).
	UserVerified bool `json:"user_verified,omitempty"`
	// BackupEligible and BackupState are the authenticator's backup flags
	// (a synced passkey); BackupEligible never changes for a credential.
	BackupEligible bool `json:"backup_eligible,omitempty"`
	BackupState    bool `json:"backup_state,omitempty"`
	// Transports are the transports the browser reported ("internal",
	// "usb", "hybrid", ...).
	Transports []string `json:"transports,omitempty"`
	// AttestationFormat is the attestation statement format accepted at
	// registration ("none" by default).
	AttestationFormat string    `json:"attestation_format,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	// LastUsedAt is the time of the last successful assertion.
	LastUsedAt time.Time `json:"last_used_at"`
}

// MaxPasskeys bounds the credentials one user may register.
const MaxPasskeys = 16

// maxPasskeyName bounds a passkey's name, in bytes.
const maxPasskeyName = 64

// Fingerprint returns the credential's audit identifier: the first 8 bytes
// of SHA-256 of the credential ID, hex. Audit events carry it, never the
// raw ID, public key or attestation.
func (p Passkey) Fingerprint() string { return PasskeyFingerprint(p.ID) }

// PasskeyFingerprint is Passkey.Fingerprint for a raw credential ID.
func PasskeyFingerprint(id []byte) string {
	h := sha256.Sum256(id)
	return hex.EncodeToString(h[:8])
}

// clonePasskeys returns a deep copy of ps.
func clonePasskeys(ps []Passkey) []Passkey {
	if ps == nil {
		return nil
	}
	out := make([]Passkey, len(ps))
	for i, p := range ps {
		p.ID, p.PublicKey, p.AAGUID = slices.Clone(p.ID), slices.Clone(p.PublicKey), slices.Clone(p.AAGUID)
		p.Transports = slices.Clone(p.Transports)
		out[i] = p
	}
	return out
}

// validatePasskeys checks the credential list of a user: bounded, IDs and
// keys present and unique, names valid. Messages name the field, never a
// value.
func validatePasskeys(ps []Passkey) error {
	if len(ps) > MaxPasskeys {
		return fmt.Errorf("%w: more than %d passkeys", ErrInvalidUser, MaxPasskeys)
	}
	for i, p := range ps {
		switch {
		case len(p.ID) == 0 || len(p.ID) > 1023:
			return fmt.Errorf("%w: passkey %d: bad credential ID length", ErrInvalidUser, i)
		case len(p.PublicKey) == 0:
			return fmt.Errorf("%w: passkey %d: no public key", ErrInvalidUser, i)
		case !validPasskeyName(p.Name):
			return fmt.Errorf("%w: passkey %d: bad name", ErrInvalidUser, i)
		}
		for _, q := range ps[:i] {
			if string(q.ID) == string(p.ID) {
				return fmt.Errorf("%w: passkey %d: duplicate credential ID", ErrInvalidUser, i)
			}
		}
	}
	return nil
}

// validPasskeyName reports whether name is a usable passkey label: 1 to
// 64 bytes of valid UTF-8 without control characters.
func validPasskeyName(name string) bool {
	if name == "" || len(name) > maxPasskeyName || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// HasPasskey reports whether the user has at least one passkey.
func (u *User) HasPasskey() bool { return u != nil && len(u.Passkeys) > 0 }

// needsPasskey reports whether a principal with roles must hold a
// passkey session under policy p (policy.Tenant.PasskeyRoles).
func needsPasskey(p *policy.Tenant, roles []string) bool {
	for _, r := range roles {
		if slices.Contains(p.PasskeyRoles, r) {
			return true
		}
	}
	return false
}
