package auth

import (
	"context"
	"fmt"

	"github.com/hipaakit/hipaakit/phi"
)

// PHISubjectPrefix begins the phi subject under which PHISealer seals a
// user's secrets: the subject is PHISubjectPrefix + the user's ID, so each
// user's secrets are under their own data keyset, and shredding that subject
// destroys them.
const PHISubjectPrefix = "auth-user:"

// pHIField is the phi field the TOTP secret is sealed for.
const pHIField = "totp_secret"

// PHISealer returns a SecretSealer that seals with the phi Vault v, bound to
// phi.Binding{Subject: PHISubjectPrefix + userID, Field: PHIField}: the
// sealed bytes are phi's versioned sealed format, open only for that user
// and field, and their keys are wrapped by the Vault's KEK.
func PHISealer(v *phi.Vault) SecretSealer { return phiSealer{v: v} }

type phiSealer struct{ v *phi.Vault }

func phiBinding(userID string) phi.Binding {
	return phi.Binding{Subject: PHISubjectPrefix + userID, Field: pHIField}
}

func (s phiSealer) Seal(ctx context.Context, userID string, plaintext []byte) ([]byte, error) {
	sealed, err := s.v.Seal(ctx, phiBinding(userID), plaintext)
	if err != nil {
		return nil, fmt.Errorf("auth: seal secret: %w", err)
	}
	return []byte(sealed), nil
}

func (s phiSealer) Open(ctx context.Context, userID string, sealed []byte) ([]byte, error) {
	b, err := s.v.Open(ctx, phiBinding(userID), phi.Sealed(sealed))
	if err != nil {
		return nil, fmt.Errorf("auth: open secret: %w", err)
	}
	pt := b.Reveal()
	b.Wipe()
	return pt, nil
}
