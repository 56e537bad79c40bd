package phi_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

func TestBlindIndex(t *testing.T) {
	cfg := phi.VaultConfig{BlindIndexes: map[string]phi.Normalizer{
		"email":  phi.NormalizeEmail,
		"email2": phi.NormalizeEmail,
		"phone":  phi.NormalizeDigits,
		"name":   phi.NormalizeFold,
		"raw":    phi.NormalizeExact,
	}}
	e := newEnvWith(t, cfg)
	idx := func(field, v string) []byte {
		t.Helper()
		b, err := e.vault.BlindIndex(ctx, field, []byte(v))
		if err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		if len(b) != phi.BlindIndexLen {
			t.Fatalf("index length %d", len(b))
		}
		return b
	}
	same := func(a, b []byte) bool { return bytes.Equal(a, b) }
	if !same(idx("email", " Ann@Example.COM "), idx("email", "ann@example.com")) {
		t.Error("email normalisation")
	}
	if same(idx("email", "ann@example.com"), idx("email", "bob@example.com")) {
		t.Error("different values share an index")
	}
	if same(idx("email", "ann@example.com"), idx("email2", "ann@example.com")) {
		t.Error("different fields share an index")
	}
	if !same(idx("phone", "(555) 0100"), idx("phone", "555-0100")) {
		t.Error("digit normalisation")
	}
	if !same(idx("name", "ＡＮＮ   Lee"), idx("name", "ann lee")) {
		t.Error("fold normalisation (NFKC, case, space)")
	}
	if same(idx("raw", "A"), idx("raw", "a")) {
		t.Error("exact normalisation folded case")
	}
	for _, bad := range []string{"no-at-sign", "@x", "x@", "a@b@c", "a b@c"} {
		_, err := e.vault.BlindIndex(ctx, "email", []byte(bad))
		if err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("email %q: %v", bad, err)
		}
	}
	if _, err := e.vault.BlindIndex(ctx, "name", []byte{0xff, 'a'}); err == nil {
		t.Error("invalid UTF-8 accepted by NormalizeFold")
	}
	if _, err := e.vault.BlindIndex(ctx, "phone", []byte("none")); err == nil {
		t.Error("phone without digits accepted")
	}
	if _, err := e.vault.BlindIndex(ctx, "ssn", []byte("1")); !errors.Is(err, phi.ErrUnknownField) {
		t.Errorf("unregistered field: %v", err)
	}

	// Stable across Vaults on the same store and KEK, warm without store
	// calls, independent of subject keys and their shredding.
	before := idx("email", "ann@example.com")
	mustSeal(t, e.vault, phi.Binding{Subject: "p1", Field: "email"}, "ann@example.com")
	sc := e.store.calls.Load()
	idx("email", "x@y")
	if e.store.calls.Load() != sc {
		t.Error("warm blind index read the store")
	}
	if _, err := e.vault.Shred(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	v2, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: e.kek, BlindIndexes: cfg.BlindIndexes})
	after, err := v2.BlindIndex(ctx, "email", []byte("ann@example.com"))
	if err != nil || !same(before, after) {
		t.Fatalf("index changed across Vaults or after a shred: %v", err)
	}
	// Another store means another index key.
	other := newEnvWith(t, cfg)
	o, _ := other.vault.BlindIndex(ctx, "email", []byte("ann@example.com"))
	if same(before, o) {
		t.Error("two stores share an index key")
	}
	// The index key is stored wrapped under the reserved reference.
	w, err := e.store.Get(ctx, "_hipaakit.blind-index")
	if err != nil || w.KEKID != e.kek.ID() {
		t.Fatalf("index keyset: %+v %v", w, err)
	}
}

// FuzzNormalize feeds untrusted values to the built-in normalisers: they
// never panic, and normalising a normalised value changes nothing (so an
// index computed from stored, already normalised data matches one computed
// from raw input).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Ann@Example.com ", "(555) 0100", "ＡＮＮ   Lee", "", "a@b", "ß@ẞ.de", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		for name, n := range map[string]phi.Normalizer{"exact": phi.NormalizeExact, "fold": phi.NormalizeFold, "email": phi.NormalizeEmail, "digits": phi.NormalizeDigits} {
			once, err := n(v)
			if err != nil {
				continue
			}
			twice, err := n(once)
			if err != nil || !bytes.Equal(once, twice) {
				t.Fatalf("%s is not idempotent: %q -> %q -> %q (%v)", name, v, once, twice, err)
			}
		}
	})
}
