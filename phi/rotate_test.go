package phi_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
)

func TestRotateSubjectKey(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "f"}
	old := mustSeal(t, e.vault, b, "before")
	oh, _ := old.Header()
	id, err := e.vault.RotateSubjectKey(ctx, "p1")
	if err != nil || id == oh.KeyID {
		t.Fatalf("rotate: %d %v", id, err)
	}
	w, _ := e.store.Get(ctx, "p1")
	if len(w.KeyIDs) != 2 {
		t.Fatalf("keyset holds %v", w.KeyIDs)
	}
	nw := mustSeal(t, e.vault, b, "after")
	if h, _ := nw.Header(); h.KeyID != id {
		t.Fatalf("new seal under key %d, want the new primary %d", h.KeyID, id)
	}
	if got, err := e.vault.Open(ctx, b, old); err != nil || string(got.Reveal()) != "before" {
		t.Fatalf("old value after rotation: %v", err)
	}
	re, err := e.vault.Reseal(ctx, b, old)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := re.Header(); h.KeyID != id {
		t.Fatal("Reseal did not move the value to the primary key")
	}
	if got, _ := e.vault.Open(ctx, b, re); string(got.Reveal()) != "before" {
		t.Fatal("Reseal changed the value")
	}
	again, err := e.vault.Reseal(ctx, b, re)
	if err != nil || !bytes.Equal(again, re) {
		t.Fatal("Reseal of a value under the primary key changed it")
	}
	if _, err := e.vault.Reseal(ctx, phi.Binding{Subject: "p1", Field: "g"}, old); !errors.Is(err, phi.ErrTampered) {
		t.Fatalf("Reseal with a wrong binding: %v", err)
	}
	if _, err := e.vault.RotateSubjectKey(ctx, "nobody"); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatalf("rotate unknown: %v", err)
	}
	e.vault.Shred(ctx, "p1")
	if _, err := e.vault.RotateSubjectKey(ctx, "p1"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("rotate shredded: %v", err)
	}
	w2, _ := e.store.List(ctx, "", 10)
	if len(w2) != 0 {
		t.Fatal("shredded keyset still listed")
	}
}

// TestRotateSubjectKeyInvalidatesOtherCaches checks the documented bound:
// another Vault on the same store sees the new primary after its TTL.
func TestRotateSubjectKeyInvalidatesCache(t *testing.T) {
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "f"}
	mustSeal(t, e.vault, b, "warm") // cached
	id, err := e.vault.RotateSubjectKey(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := mustSeal(t, e.vault, b, "x").Header(); h.KeyID != id {
		t.Fatal("cache still served the old primary after rotation")
	}
}

// failingKEK fails Wrap after n successful calls.
type failingKEK struct {
	phi.KEK
	left int
}

func (k *failingKEK) Wrap(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if k.left == 0 {
		return nil, errors.New("simulated KMS outage")
	}
	k.left--
	return k.KEK.Wrap(ctx, pt, ad)
}

func TestRotateKEKResumable(t *testing.T) {
	e := newEnvWith(t, phi.VaultConfig{BlindIndexes: map[string]phi.Normalizer{"mrn": phi.NormalizeDigits}})
	var sealed []phi.Sealed
	subjects := []string{"s1", "s2", "s3", "s4", "s5"}
	for _, s := range subjects {
		sealed = append(sealed, mustSeal(t, e.vault, phi.Binding{Subject: s, Field: "f"}, s))
	}
	idx, err := e.vault.BlindIndex(ctx, "mrn", []byte("MRN-0042"))
	if err != nil {
		t.Fatal(err)
	}
	oldKEK, newKEK := e.kek.KEK, testKEK(t, 7)

	// First run is interrupted after three keysets (6 stored: 5 subjects and the index key).
	var last phi.Progress
	err = e.vault.RotateKEK(ctx, &failingKEK{KEK: newKEK, left: 3}, func(p phi.Progress) { last = p })
	if err == nil || last.Rewrapped != 3 || last.Done {
		t.Fatalf("interrupted run: %v, %+v", err, last)
	}
	// A process restarted with both KEKs resumes.
	v2, err := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: newKEK, OldKEKs: []phi.KEK{oldKEK}, BlindIndexes: map[string]phi.Normalizer{"mrn": phi.NormalizeDigits}})
	if err != nil {
		t.Fatal(err)
	}
	var reports []phi.Progress
	if err := v2.RotateKEK(ctx, newKEK, func(p phi.Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	final := reports[len(reports)-1]
	if !final.Done || final.Scanned != 6 || final.Skipped != 3 || final.Rewrapped != 3 || len(reports) != 7 {
		t.Fatalf("resumed run: %+v (%d reports)", final, len(reports))
	}
	all, _ := e.store.List(ctx, "", 100)
	for _, w := range all {
		if w.KEKID != newKEK.ID() {
			t.Fatalf("%s still under %s", w.Ref, w.KEKID)
		}
	}
	// Only the new KEK is needed now; data and indexes are unchanged.
	v3, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: newKEK, BlindIndexes: map[string]phi.Normalizer{"mrn": phi.NormalizeDigits}})
	for i, s := range subjects {
		got, err := v3.Open(ctx, phi.Binding{Subject: s, Field: "f"}, sealed[i])
		if err != nil || string(got.Reveal()) != s {
			t.Fatalf("open %s after KEK rotation: %v", s, err)
		}
	}
	idx3, err := v3.BlindIndex(ctx, "mrn", []byte("0042"))
	if err != nil || !bytes.Equal(idx, idx3) {
		t.Fatalf("blind index changed by KEK rotation: %v", err)
	}
	// The old KEK alone can open nothing any more.
	v4, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: oldKEK})
	if _, err := v4.Open(ctx, phi.Binding{Subject: "s1", Field: "f"}, sealed[0]); !errors.Is(err, phi.ErrUnknownKEK) {
		t.Fatalf("old KEK after rotation: %v", err)
	}
}

func TestRotateKEKNeedsOldKEK(t *testing.T) {
	e := newEnv(t)
	mustSeal(t, e.vault, phi.Binding{Subject: "s1", Field: "f"}, "x")
	v, _ := phi.NewVault(phi.VaultConfig{Keys: e.store, KEK: testKEK(t, 8)})
	if err := v.RotateKEK(ctx, testKEK(t, 8), nil); !errors.Is(err, phi.ErrUnknownKEK) {
		t.Fatalf("got %v, want ErrUnknownKEK", err)
	}
}
