package phi_test

import (
	"bytes"
	"testing"

	"github.com/hipaakit/hipaakit/internal/redact"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// TestKeyHoldersRedactUnderEveryVerb prints a warm Vault (subject keys and
// blind-index keys loaded) and its local KEK under every fmt verb, slog
// and JSON: each must print its redaction and nothing of the master key.
func TestKeyHoldersRedactUnderEveryVerb(t *testing.T) {
	master := bytes.Repeat([]byte("MASTERKEY-CANARY"), 2)
	kek, err := localkek.New(master)
	if err != nil {
		t.Fatal(err)
	}
	v, err := phi.NewVault(phi.VaultConfig{Keys: memstore.New(memstore.Config{}), KEK: kek, BlindIndexes: map[string]phi.Normalizer{"email": phi.NormalizeEmail}})
	if err != nil {
		t.Fatal(err)
	}
	b := phi.Binding{Subject: "p1", Field: "email"}
	if _, err := v.Seal(ctx, b, []byte("a@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.BlindIndex(ctx, "email", []byte("a@example.com")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    any
		name string
	}{{v, "phi.Vault"}, {kek, "localkek.KEK"}, {*kek, "localkek.KEK"}} {
		if bad := redact.Leaks(c.v, c.name, redact.Canaries(master)...); len(bad) > 0 {
			t.Errorf("%T leaks: %v", c.v, bad)
		}
	}
}
