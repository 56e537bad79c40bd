package signing

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// PublicKeyPEMType is the PEM block type of an encoded public key.
const PublicKeyPEMType = "PUBLIC KEY"

// KeyID returns the identifier of an ed25519 public key that audit
// checkpoints, ledger checkpoints and disposal certificates carry: the first
// 8 bytes of the SHA-256 of the 32-byte key, in hex (16 characters).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// EncodePublicKey encodes pub as a PEM "PUBLIC KEY" block (PKIX), the one
// form in which hipaakit writes public keys. It fails with ErrMalformedKey
// when pub is not 32 bytes long.
func EncodePublicKey(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformedKey, len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: public key", ErrMalformedKey)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}

// ParsePublicKey decodes exactly one PEM "PUBLIC KEY" block holding an
// ed25519 key (text around the block is ignored, as PEM allows; a second
// block is an error: use ParseKeySet for several keys).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	pub, rest, err := parsePublicBlock(data)
	if err != nil {
		return nil, err
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block (use a key set)", ErrMalformedKey)
	}
	return pub, nil
}

// parsePublicBlock decodes the first PEM block of data as a public key and
// returns what follows it.
func parsePublicBlock(data []byte) (ed25519.PublicKey, []byte, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, nil, fmt.Errorf("%w: expected a PEM %s block", ErrMalformedKey, PublicKeyPEMType)
	}
	if b.Type != PublicKeyPEMType {
		return nil, nil, fmt.Errorf("%w: PEM block is not a %s", ErrMalformedKey, PublicKeyPEMType)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: public key does not parse as PKIX", ErrMalformedKey)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: public key", ErrNotEd25519)
	}
	return pub, rest, nil
}
