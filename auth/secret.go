package auth

import "context"

// SecretSealer encrypts the per-user secrets this package stores (the TOTP
// secret) so that a copy of the user store alone never reveals them.
// PHISealer adapts a *phi.Vault; any envelope-encryption service works.
//
// Seal returns ciphertext bound to userID: Open must fail for any other
// userID, and for ciphertext that was altered. Implementations are safe for
// concurrent use, never log plaintext, and return errors that do not contain
// it. The plaintext passed to Seal and returned by Open is owned by the
// caller, who zeroes it after use.
type SecretSealer interface {
	Seal(ctx context.Context, userID string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, userID string, sealed []byte) ([]byte, error)
}
