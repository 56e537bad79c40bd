package hipaakit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/signing"
)

// TestSigningKeyRotation: after the signing key changes, the trail verifies
// only while the earlier key is in Signing.Trusted.
func TestSigningKeyRotation(t *testing.T) {
	ctx := context.Background()
	cfg, _ := embedded(t, nil)
	d := open(t, cfg)
	if _, err := d.Vault.Seal(ctx, phi.Binding{Subject: "p1", Field: "f"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	old := d.TrustedKeys().Keys()[0]
	d.Close() // seals the log with a checkpoint by the old key

	// A new signing key without the old one trusted: the trail's
	// checkpoints do not verify, and Open refuses it (fail closed).
	cfg.Signing.KeyFile = filepath.Join(t.TempDir(), "new-signing-key.pem")
	if _, err := hipaakit.Open(ctx, cfg); err == nil {
		t.Fatal("the old key's checkpoints were accepted without trusting it")
	}
	cfg.Signing.Trusted = mustKeySet(t, old)
	d = open(t, cfg)
	if keys := d.TrustedKeys().Keys(); len(keys) != 2 || keys[0].Equal(old) || !keys[1].Equal(old) {
		t.Fatalf("TrustedKeys = %d keys", len(keys))
	}
	if _, err := d.Audit.Verify(ctx, audit.VerifyOptions{Keys: d.TrustedKeys()}); err != nil {
		t.Fatalf("Verify with the earlier key trusted: %v", err)
	}
	d.Close()
	if _, err := signing.NewKeySet(old[:5]); !errors.Is(err, signing.ErrMalformedKey) {
		t.Fatalf("a malformed trusted key: %v", err)
	}
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
