package phi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

// leakyKEK fails every call with an error that a careless Vault could echo
// together with its inputs.
type leakyKEK struct{ phi.KEK }

func (leakyKEK) Unwrap(context.Context, []byte, []byte) ([]byte, error) {
	return nil, errors.New("kms: throttled")
}

// TestVaultErrorsCarryNoPHI drives every failure path of Seal, Open, Reveal,
// Reseal and BlindIndex with a canary plaintext and checks that neither the
// errors nor a log line made from them hold the canary, the sealed bytes or
// key material.
func TestVaultErrorsCarryNoPHI(t *testing.T) {
	e := newEnvWith(t, phi.VaultConfig{Audit: failingAudit(), BlindIndexes: map[string]phi.Normalizer{"email": phi.NormalizeEmail}})
	b := phi.Binding{Subject: "p1", Field: "ssn"}
	s := mustSeal(t, e.vault, b, canary)
	w, _ := e.store.Get(ctx, "p1")

	var errs []error
	add := func(_ any, err error) { errs = append(errs, err) }
	add(e.vault.Open(ctx, phi.Binding{Subject: "p1", Field: "dob"}, s))
	add(e.vault.Open(ctx, b, s[:20]))
	add(e.vault.Open(ctx, b, append([]byte{9}, s[1:]...)))
	add(e.vault.Reveal(ctx, b, s, "treatment"))
	add(e.vault.Reveal(ctx, phi.Binding{Subject: "p1", Field: "x"}, s, "treatment"))
	add(e.vault.Reseal(ctx, phi.Binding{Subject: "p1", Field: "x"}, s))
	add(e.vault.BlindIndex(ctx, "email", []byte(canary)))
	add(e.vault.BlindIndex(ctx, canary, []byte(canary)))
	add(e.vault.Seal(ctx, phi.Binding{Subject: canary + " x", Field: "f"}, []byte(canary)))
	add(e.vault.Seal(ctx, phi.Binding{Subject: "p9", Field: canary + " x"}, []byte(canary)))
	cold, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: leakyKEK{e.kek}})
	add(cold.Open(ctx, b, s))
	e.vault.Shred(ctx, "p1")
	add(e.vault.Open(ctx, b, s))
	add(e.vault.Seal(ctx, b, []byte(canary)))

	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("failure path %d succeeded", i)
		}
		l.Error("op failed", "err", err)
		msg := err.Error() + fmt.Sprintf("%+v %#v", err, err)
		for _, secret := range []string{canary, hex.EncodeToString(s[5:20]), base64.StdEncoding.EncodeToString(w.Ciphertext[4:20]), hex.EncodeToString(w.Ciphertext[4:20])} {
			if strings.Contains(msg, secret) {
				t.Errorf("error %d leaks: %s", i, msg)
			}
		}
		if !strings.HasPrefix(err.Error(), "phi") {
			t.Errorf("error %d does not name its package: %s", i, err)
		}
	}
	if strings.Contains(logs.String(), canary) {
		t.Error("log of errors leaks")
	}
}
