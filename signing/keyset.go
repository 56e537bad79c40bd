package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/hipaakit/hipaakit/durable"
)

// KeySet is a set of trusted ed25519 public keys: the current key of a
// deployment and the earlier ones it still verifies after a rotation. A
// signature is checked with the one key whose KeyID it names. The zero value
// is the empty set, which trusts nothing. A KeySet is immutable and safe for
// concurrent use.
type KeySet struct {
	keys []ed25519.PublicKey // in the order given, first is current
	ids  []string
}

// NewKeySet returns the set of keys (the current key first, by convention).
// A key given twice counts once; a key that is not 32 bytes fails with
// ErrMalformedKey, and two different keys with one KeyID with
// ErrDuplicateKeyID.
func NewKeySet(keys ...ed25519.PublicKey) (KeySet, error) {
	var s KeySet
	for i, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return KeySet{}, fmt.Errorf("%w: key %d is %d bytes, want %d", ErrMalformedKey, i, len(k), ed25519.PublicKeySize)
		}
		id := KeyID(k)
		if have, err := s.Lookup(id); err == nil {
			if bytes.Equal(have, k) {
				continue
			}
			return KeySet{}, fmt.Errorf("%w: key %d (%s)", ErrDuplicateKeyID, i, id)
		}
		s.keys = append(s.keys, append(ed25519.PublicKey(nil), k...))
		s.ids = append(s.ids, id)
	}
	return s, nil
}

// With returns a set holding s's keys followed by keys.
func (s KeySet) With(keys ...ed25519.PublicKey) (KeySet, error) {
	return NewKeySet(append(s.Keys(), keys...)...)
}

// Len returns the number of keys in s.
func (s KeySet) Len() int { return len(s.keys) }

// Keys returns a copy of s's keys in order.
func (s KeySet) Keys() []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(s.keys))
	for i, k := range s.keys {
		out[i] = append(ed25519.PublicKey(nil), k...)
	}
	return out
}

// Lookup returns the key whose KeyID is id, or ErrUnknownKey.
func (s KeySet) Lookup(id string) (ed25519.PublicKey, error) {
	for i, have := range s.ids {
		if have == id {
			return s.keys[i], nil
		}
	}
	return nil, fmt.Errorf("%w: key ID %q is not trusted", ErrUnknownKey, sanitizeID(id))
}

// Verify checks that sig is the signature of msg by the trusted key whose
// KeyID is keyID. It fails with ErrUnknownKey or ErrBadSignature.
func (s KeySet) Verify(keyID string, msg, sig []byte) error {
	pub, err := s.Lookup(keyID)
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: key %s", ErrBadSignature, keyID)
	}
	return nil
}

// EncodePEM returns s as concatenated PEM "PUBLIC KEY" blocks, the form
// ParseKeySet reads.
func (s KeySet) EncodePEM() []byte {
	var out []byte
	for _, k := range s.keys {
		b, _ := EncodePublicKey(k) // NewKeySet checked the length
		out = append(out, b...)
	}
	return out
}

// PEMs returns each key of s as its own PEM block, in order: the form of a
// configuration file's list of keys.
func (s KeySet) PEMs() []string {
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		b, _ := EncodePublicKey(k) // NewKeySet checked the length
		out[i] = string(b)
	}
	return out
}

// ParseKeySet decodes one or more PEM "PUBLIC KEY" blocks (a trusted-keys
// file: the current key first). Data without any block fails with
// ErrMalformedKey.
func ParseKeySet(data []byte) (KeySet, error) {
	var keys []ed25519.PublicKey
	rest := data
	for {
		if b, _ := pem.Decode(rest); b == nil {
			break
		}
		pub, next, err := parsePublicBlock(rest)
		if err != nil {
			return KeySet{}, fmt.Errorf("%w (key %d)", err, len(keys))
		}
		keys = append(keys, pub)
		rest = next
	}
	if len(keys) == 0 {
		return KeySet{}, fmt.Errorf("%w: expected a PEM %s block", ErrMalformedKey, PublicKeyPEMType)
	}
	return NewKeySet(keys...)
}

// ReadKeySet reads a trusted-keys file (ParseKeySet). Errors never name the
// path.
func ReadKeySet(path string) (KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return KeySet{}, fmt.Errorf("signing: read key file: %w", durable.WithoutPath(err))
	}
	return ParseKeySet(data)
}

// sanitizeID keeps an untrusted key ID printable and short in an error.
func sanitizeID(id string) string {
	if len(id) > 16 {
		id = id[:16]
	}
	b := []byte(id)
	for i, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			b[i] = '?'
		}
	}
	return string(b)
}
