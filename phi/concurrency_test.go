package phi_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// Many goroutines in several Vaults sealing for a new subject at once create
// exactly one keyset, and every value opens in every Vault.
func TestConcurrentFirstSeal(t *testing.T) {
	store := memstore.New(memstore.Config{})
	kek := testKEK(t, 1)
	vaults := make([]*phi.Vault, 3)
	for i := range vaults {
		vaults[i], _ = phi.NewVault(phi.VaultConfig{Keys: store, KEK: kek})
	}
	b := phi.Binding{Subject: "new", Field: "f"}
	sealed := make([]phi.Sealed, 24)
	var wg sync.WaitGroup
	for i := range sealed {
		wg.Go(func() {
			s, err := vaults[i%len(vaults)].Seal(ctx, b, []byte(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
			}
			sealed[i] = s
		})
	}
	wg.Wait()
	w, err := store.Get(ctx, "new")
	if err != nil || len(w.KeyIDs) != 1 || w.Version != 1 {
		t.Fatalf("keyset after the race: %+v %v", w, err)
	}
	for i, s := range sealed {
		for _, v := range vaults {
			got, err := v.Open(ctx, b, s)
			if err != nil || string(got.Reveal()) != fmt.Sprint(i) {
				t.Fatalf("value %d: %v", i, err)
			}
		}
	}
}

// Once Shred has returned, no Open in this Vault succeeds, however the
// Opens interleave with the shred (run with -race).
func TestShredRacesOpen(t *testing.T) {
	for round := range 20 {
		e := newEnv(t)
		b := phi.Binding{Subject: "p", Field: "f"}
		s := mustSeal(t, e.vault, b, "v")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := e.vault.Open(ctx, b, s); err != nil && !errors.Is(err, phi.ErrShredded) {
						t.Error(err)
						return
					}
				}
			})
		}
		if _, err := e.vault.Shred(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if _, err := e.vault.Open(ctx, b, s); !errors.Is(err, phi.ErrShredded) {
				t.Fatalf("round %d: Open after Shred returned %v", round, err)
			}
		}
		close(stop)
		wg.Wait()
	}
}

// Seal, Open, rotation and KEK rotation run together without races or
// spurious errors.
func TestConcurrentRotation(t *testing.T) {
	e := newEnv(t)
	subjects := []string{"a", "b", "c", "d"}
	for _, s := range subjects {
		mustSeal(t, e.vault, phi.Binding{Subject: s, Field: "f"}, s)
	}
	var wg sync.WaitGroup
	for _, s := range subjects {
		wg.Go(func() {
			b := phi.Binding{Subject: s, Field: "f"}
			for range 20 {
				v, err := e.vault.Seal(ctx, b, []byte(s))
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := e.vault.Open(ctx, b, v); err != nil || string(got.Reveal()) != s {
					t.Errorf("open: %v", err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 3 {
				if _, err := e.vault.RotateSubjectKey(ctx, s); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		if err := e.vault.RotateKEK(ctx, testKEK(t, 9), nil); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	for _, s := range subjects {
		w, _ := e.store.Get(ctx, s)
		if len(w.KeyIDs) != 4 {
			t.Errorf("%s has %d keys, want 4 (no rotation lost)", s, len(w.KeyIDs))
		}
	}
}
