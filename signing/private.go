package signing

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// PrivateKeyPEMType is the PEM block type of a private key file.
const PrivateKeyPEMType = "PRIVATE KEY"

// PrivateKey is an ed25519 signing key. It is a crypto.Signer, so it goes
// wherever hipaakit takes a signer, and it prints, logs and marshals as a
// redaction. The zero value holds no key: Sign fails and Public returns nil.
type PrivateKey struct {
	k ed25519.PrivateKey
}

// Generate returns a new random signing key.
func Generate() (*PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("signing: generate key: %w", err)
	}
	return &PrivateKey{k: k}, nil
}

// NewPrivateKey wraps an existing ed25519 private key (64 bytes, as
// crypto/ed25519 returns it). The key is copied.
func NewPrivateKey(k ed25519.PrivateKey) (*PrivateKey, error) {
	if len(k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key has the wrong length", ErrMalformedKey)
	}
	return &PrivateKey{k: append(ed25519.PrivateKey(nil), k...)}, nil
}

// Public returns the ed25519.PublicKey of k (crypto.Signer).
func (k PrivateKey) Public() crypto.PublicKey {
	if len(k.k) != ed25519.PrivateKeySize {
		return nil
	}
	return k.k.Public()
}

// PublicKey returns the public key of k, nil for the zero value.
func (k PrivateKey) PublicKey() ed25519.PublicKey {
	pub, _ := k.Public().(ed25519.PublicKey)
	return pub
}

// PublicKeyPEM returns k's public key as EncodePublicKey writes it, nil for
// the zero value.
func (k PrivateKey) PublicKeyPEM() []byte {
	b, _ := EncodePublicKey(k.PublicKey()) // fails only for the zero value
	return b
}

// KeyID returns KeyID of k's public key.
func (k PrivateKey) KeyID() string { return KeyID(k.PublicKey()) }

// Sign signs msg (crypto.Signer). opts is nil or crypto.Hash(0) (ed25519
// signs the message itself) or an *ed25519.Options.
func (k PrivateKey) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if len(k.k) != ed25519.PrivateKeySize {
		return nil, errors.New("signing: sign with an empty key")
	}
	if opts == nil {
		opts = crypto.Hash(0)
	}
	sig, err := k.k.Sign(r, msg, opts)
	if err != nil {
		return nil, fmt.Errorf("signing: sign: %w", err)
	}
	return sig, nil
}

// ExportPEM returns k as a PEM "PRIVATE KEY" block (PKCS #8): the secret
// itself, for storing in a secret manager. Save writes the same bytes to a
// file.
func (k PrivateKey) ExportPEM() ([]byte, error) {
	if len(k.k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: empty private key", ErrMalformedKey)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.k)
	if err != nil {
		return nil, fmt.Errorf("%w: private key", ErrMalformedKey)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: der}), nil
}

// ParsePrivateKey decodes a PEM "PRIVATE KEY" block (PKCS #8) holding an
// ed25519 key. Its errors never contain key material.
func ParsePrivateKey(data []byte) (*PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != PrivateKeyPEMType {
		return nil, fmt.Errorf("%w: expected a PEM %s block", ErrMalformedKey, PrivateKeyPEMType)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: private key does not parse as PKCS #8", ErrMalformedKey)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: private key", ErrNotEd25519)
	}
	return &PrivateKey{k: priv}, nil
}

// Format redacts k under every fmt verb.
func (k PrivateKey) Format(f fmt.State, _ rune) { redact.Format(f, "signing.PrivateKey") }

// LogValue redacts k in log/slog.
func (k PrivateKey) LogValue() slog.Value { return redact.Log("signing.PrivateKey") }

// MarshalJSON redacts k in encoding/json.
func (k PrivateKey) MarshalJSON() ([]byte, error) { return redact.JSON("signing.PrivateKey") }
