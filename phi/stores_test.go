package phi_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/phi/pgstore"
)

// TestVaultOverEveryStore runs the Vault's life cycle (seal, open, rotate,
// re-wrap under a new KEK, blind index, shred) over every KeyStore hipaakit
// ships, with a second Vault standing in for another process.
func TestVaultOverEveryStore(t *testing.T) {
	stores := map[string]func(t *testing.T) (a, b phi.KeyStore){
		"memstore": func(t *testing.T) (phi.KeyStore, phi.KeyStore) {
			s := memstore.New(memstore.Config{})
			return s, s
		},
		"filestore": func(t *testing.T) (phi.KeyStore, phi.KeyStore) {
			dir := filepath.Join(t.TempDir(), "keys")
			a, err := filestore.Open(dir, filestore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := filestore.Open(dir, filestore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return a, b
		},
		"pgstore": func(t *testing.T) (phi.KeyStore, phi.KeyStore) {
			pool := hipaakittest.Postgres(t)
			if err := pgstore.Migrate(ctx, pool); err != nil {
				t.Fatal(err)
			}
			return pgstore.New(pool, pgstore.Config{}), pgstore.New(pool, pgstore.Config{})
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			sa, sb := open(t)
			kek1, kek2 := testKEK(t, 1), testKEK(t, 2)
			idx := map[string]phi.Normalizer{"email": phi.NormalizeEmail}
			va, err := phi.NewVault(phi.VaultConfig{Keys: sa, KEK: kek1, BlindIndexes: idx})
			if err != nil {
				t.Fatal(err)
			}
			b := phi.Binding{Subject: "patient-1", Field: "email"}
			s := mustSeal(t, va, b, "ann@example.com")
			i1, err := va.BlindIndex(ctx, "email", []byte("Ann@example.com"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := va.RotateSubjectKey(ctx, "patient-1"); err != nil {
				t.Fatal(err)
			}
			s2 := mustSeal(t, va, b, "ann@example.com")
			if err := va.RotateKEK(ctx, kek2, nil); err != nil {
				t.Fatal(err)
			}

			// "Another process" with only the new KEK.
			vb, err := phi.NewVault(phi.VaultConfig{Keys: sb, KEK: kek2, BlindIndexes: idx})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []phi.Sealed{s, s2} {
				got, err := vb.Open(ctx, b, x)
				if err != nil || string(got.Reveal()) != "ann@example.com" {
					t.Fatalf("open in the other Vault: %v", err)
				}
			}
			i2, err := vb.BlindIndex(ctx, "email", []byte("ann@EXAMPLE.com"))
			if err != nil || string(i1) != string(i2) {
				t.Fatalf("blind index differs across Vaults: %v", err)
			}
			if _, err := vb.Open(ctx, phi.Binding{Subject: "patient-1", Field: "name"}, s); !errors.Is(err, phi.ErrTampered) {
				t.Fatalf("wrong field: %v", err)
			}
			destroyed, err := vb.Shred(ctx, "patient-1")
			if err != nil || len(destroyed) != 2 {
				t.Fatalf("shred: %v %v", destroyed, err)
			}
			fresh, _ := phi.NewVault(phi.VaultConfig{Keys: sa, KEK: kek2})
			if _, err := fresh.Open(ctx, b, s); !errors.Is(err, phi.ErrShredded) {
				t.Fatalf("open after shred through the other store handle: %v", err)
			}
			if _, err := fresh.Seal(ctx, b, []byte("x")); !errors.Is(err, phi.ErrShredded) {
				t.Fatalf("seal after shred: %v", err)
			}
		})
	}
}
