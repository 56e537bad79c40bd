package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/stretchr/testify/require"
)

func newPHIVault(t testing.TB) *phi.Vault {
	t.Helper()
	key := make([]byte, localkek.KeySize)
	rand.Read(key)
	kek, err := localkek.New(key)
	require.NoError(t, err)
	v, err := phi.NewVault(phi.VaultConfig{Keys: memstore.New(memstore.Config{}), KEK: kek})
	require.NoError(t, err)
	return v
}

func newKeySealer(t testing.TB) *keySealer {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := NewKeySealer(key)
	require.NoError(t, err)
	return s.(*keySealer)
}

// Both sealers keep the SecretSealer contract: round trip, bound to the
// user, tamper-evident, no plaintext in the output or errors.
func TestSecretSealers(t *testing.T) {
	for name, s := range map[string]SecretSealer{"KeySealer": newKeySealer(t), "PHISealer": PHISealer(newPHIVault(t))} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			alice, bob := NewUserID(), NewUserID()
			secret := []byte("JBSWY3DPEHPK3PXP-CANARY-SECRET")
			sealed, err := s.Seal(ctx, alice, secret)
			require.NoError(t, err)
			require.False(t, bytes.Contains(sealed, secret))
			again, err := s.Seal(ctx, alice, secret)
			require.NoError(t, err)
			require.NotEqual(t, sealed, again, "fresh nonce per seal")

			pt, err := s.Open(ctx, alice, sealed)
			require.NoError(t, err)
			require.Equal(t, secret, pt)

			_, err = s.Open(ctx, bob, sealed)
			require.Error(t, err, "sealed for another user")
			tampered := bytes.Clone(sealed)
			tampered[len(tampered)-1] ^= 1
			_, err = s.Open(ctx, alice, tampered)
			require.Error(t, err)
			require.NotContains(t, err.Error(), string(secret))
			_, err = s.Open(ctx, alice, nil)
			require.Error(t, err)
			_, err = s.Open(ctx, alice, sealed[:3])
			require.Error(t, err)
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", s, s, s), "CANARY")
		})
	}
	_, err := NewKeySealer(make([]byte, 16))
	require.Error(t, err)
}

func TestKeySealerErrors(t *testing.T) {
	s := newKeySealer(t)
	sealed, err := s.Seal(t.Context(), "u", []byte("x"))
	require.NoError(t, err)
	sealed[0] = 2
	_, err = s.Open(t.Context(), "u", sealed)
	require.True(t, errors.Is(err, ErrSealed))
	require.Contains(t, fmt.Sprintf("%v|%#v", *s, s), "redacted")
}

// TOTP end to end with secrets sealed by a phi Vault.
func TestTOTPWithPHISealer(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Sealer = PHISealer(newPHIVault(t)) })
	u, secret, _ := f.enrol(t, "sam")
	stored, err := f.users.Get(t.Context(), u.ID)
	require.NoError(t, err)
	_, err = phi.Sealed(stored.MFA.TOTPSecret).Header()
	require.NoError(t, err, "stored in phi's sealed format")
	res, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "sam", Password: goodPassword, TOTPCode: f.code(t, secret, 0)})
	require.NoError(t, err)
	require.True(t, res.MFA)
	_, err = f.a.EnrollTOTP(context.Background(), u.ID, audit.Origin{})
	require.ErrorIs(t, err, errMFAAlreadyActive)
}

func TestZeroValuesFailCleanly(t *testing.T) {
	var ks keySealer
	_, err := ks.Seal(t.Context(), "u", []byte("x"))
	require.Error(t, err)
	_, err = ks.Open(t.Context(), "u", []byte("x"))
	require.Error(t, err)
	var h hasher
	_, err = h.Hash(t.Context(), "whatever-password")
	require.Error(t, err)
}
