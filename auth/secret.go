package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

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

// KeySealer is a SecretSealer with one AES-256-GCM key held in memory, for
// tests and single-node deployments without phi. Sealed form (version 1):
// 0x01 || 12-byte random nonce || ciphertext and tag, with the user ID as
// additional data, so a secret opens only for the user it was sealed for.
type keySealer struct {
	aead cipher.AEAD
}

var _ SecretSealer = (*keySealer)(nil)

// ErrSealed reports sealed bytes that do not open: altered, truncated,
// sealed for another user or under another key, or of an unknown version.
var ErrSealed = errors.New("auth: sealed secret does not open")

const keySealerVersion = 1

var errNoKeySealer = errors.New("auth: KeySealer not built by NewKeySealer")

// NewKeySealer returns a SecretSealer (AES-256-GCM) for a 32-byte key. The caller keeps the
// key secret and stable: losing it makes every sealed secret unreadable.
func NewKeySealer(key []byte) (SecretSealer, error) {
	if len(key) != 32 {
		return nil, errors.New("auth: KeySealer key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("auth: KeySealer: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("auth: KeySealer: %w", err)
	}
	return &keySealer{aead: aead}, nil
}

// Seal implements SecretSealer.
func (s *keySealer) Seal(_ context.Context, userID string, plaintext []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errNoKeySealer
	}
	out := make([]byte, 1, 1+len(plaintext)+s.aead.Overhead())
	out[0] = keySealerVersion
	return s.aead.Seal(out, nil, plaintext, []byte(userID)), nil
}

// Open implements SecretSealer.
func (s *keySealer) Open(_ context.Context, userID string, sealed []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errNoKeySealer
	}
	if len(sealed) < 1+s.aead.Overhead() || sealed[0] != keySealerVersion {
		return nil, ErrSealed
	}
	pt, err := s.aead.Open(nil, nil, sealed[1:], []byte(userID))
	if err != nil {
		return nil, ErrSealed
	}
	return pt, nil
}

// String never shows the key.
func (s keySealer) String() string { return "auth.KeySealer{[redacted]}" }

// GoString never shows the key.
func (s keySealer) GoString() string { return s.String() }
