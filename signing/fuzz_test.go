package signing_test

import (
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/signing"
)

// FuzzParsePublicKey: any input parses to a 32-byte key that re-encodes to
// an equal key, or fails with a typed error; nothing panics. ParseKeySet
// and ParsePrivateKey see the same input.
func FuzzParsePublicKey(f *testing.F) {
	k, _ := signing.Generate()
	pub, _ := signing.EncodePublicKey(k.PublicKey())
	f.Add(pub)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		typed := func(err error) bool {
			return errors.Is(err, signing.ErrMalformedKey) || errors.Is(err, signing.ErrNotEd25519) ||
				errors.Is(err, signing.ErrDuplicateKeyID)
		}
		p, err := signing.ParsePublicKey(data)
		if err != nil {
			if !typed(err) {
				t.Fatalf("untyped error %v", err)
			}
		} else {
			enc, err := signing.EncodePublicKey(p)
			if err != nil {
				t.Fatal(err)
			}
			again, err := signing.ParsePublicKey(enc)
			if err != nil || !again.Equal(p) {
				t.Fatalf("re-encoding changed the key: %v", err)
			}
		}
		if s, err := signing.ParseKeySet(data); err != nil && !typed(err) {
			t.Fatalf("ParseKeySet: untyped error %v", err)
		} else if err == nil && s.Len() == 0 {
			t.Fatal("ParseKeySet returned an empty set")
		}
		if _, err := signing.ParsePrivateKey(data); err != nil && !typed(err) {
			t.Fatalf("ParsePrivateKey: untyped error %v", err)
		}
	})
}
