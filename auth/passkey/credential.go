package passkey

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Credential is one WebAuthn credential registered by a user (a platform
// passkey unlocked by the device's biometrics or a security key). A user
// holds up to MaxPerUser of them, each with a name of the user's choice.
//
// Nothing in a Credential is secret: the private key never leaves the
// authenticator. The public key and the sign counter are what the server
// checks an assertion against. Raw attestation is never kept.
type Credential struct {
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

// MaxPerUser bounds the credentials one user may register.
const MaxPerUser = 16

// Fingerprint returns the credential's audit identifier: the first 8 bytes
// of SHA-256 of the credential ID, hex. Audit events carry it, never the
// raw ID, public key or attestation.
func (p Credential) Fingerprint() string { return Fingerprint(p.ID) }

// Fingerprint is Credential.Fingerprint for a raw credential ID.
func Fingerprint(id []byte) string {
	h := sha256.Sum256(id)
	return hex.EncodeToString(h[:8])
}
