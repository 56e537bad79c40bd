package phi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

// exampleRoot holds the examples' data directories; TestMain removes it.
var exampleRoot string

func TestMain(m *testing.M) {
	var err error
	if exampleRoot, err = os.MkdirTemp("", "phi-examples-*"); err != nil {
		log.Fatal(err)
	}
	code := m.Run()
	os.RemoveAll(exampleRoot)
	os.Exit(code)
}

// newExampleVault returns a Vault on the embedded defaults: a file key store
// and a local master key, both under one data directory.
func newExampleVault(cfg phi.VaultConfig) *phi.Vault {
	dir, err := os.MkdirTemp(exampleRoot, "vault-*")
	if err != nil {
		log.Fatal(err)
	}
	store, err := filestore.Open(filepath.Join(dir, "keys"), filestore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	kek, err := localkek.FromDir(dir) // creates dir/kek.key (mode 0600) on first use
	if err != nil {
		log.Fatal(err)
	}
	cfg.Keys, cfg.KEK = store, kek
	v, err := phi.NewVault(cfg)
	if err != nil {
		log.Fatal(err)
	}
	return v
}

func Example() {
	ctx := context.Background()
	v := newExampleVault(phi.VaultConfig{})

	b := phi.Binding{Subject: "7d0c3a52-patient", Field: "dob"}
	sealed, err := v.Seal(ctx, b, []byte("1970-01-01"))
	if err != nil {
		log.Fatal(err)
	}
	dob, err := v.Open(ctx, b, sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dob)                  // redacted
	fmt.Println(string(dob.Reveal())) // the explicit step to plaintext

	// Sealed for another field, the value does not open.
	_, err = v.Open(ctx, phi.Binding{Subject: "7d0c3a52-patient", Field: "name"}, sealed)
	fmt.Println(errors.Is(err, phi.ErrTampered))
	// Output:
	// [redacted]
	// 1970-01-01
	// true
}

func ExampleVault_Seal() {
	ctx := context.Background()
	v := newExampleVault(phi.VaultConfig{})
	sealed, err := v.Seal(ctx, phi.Binding{Subject: "patient-42", Field: "ssn"}, []byte("000-00-0000"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sealed) // prints version and length only
	// Output: phi.Sealed(v1, 44 bytes)
}

func ExampleVault_Shred() {
	ctx := context.Background()
	v := newExampleVault(phi.VaultConfig{})
	b := phi.Binding{Subject: "patient-42", Field: "name"}
	sealed, _ := v.Seal(ctx, b, []byte("Ann Example"))

	destroyed, err := v.Shred(ctx, "patient-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("keys destroyed:", len(destroyed))
	_, err = v.Open(ctx, b, sealed)
	fmt.Println(errors.Is(err, phi.ErrShredded))
	// Output:
	// keys destroyed: 1
	// true
}

func ExampleVault_Reveal() {
	ctx := context.Background()
	trail := audit.WriterFunc(func(_ context.Context, e audit.Event) error {
		fmt.Println("audit:", e.Action, e.Outcome, e.Target.Subject, e.Target.Field, e.Purpose)
		return nil
	})
	v := newExampleVault(phi.VaultConfig{Audit: trail})
	b := phi.Binding{Subject: "patient-42", Field: "dob"}
	sealed, _ := v.Seal(ctx, b, []byte("1970-01-01"))

	dob, err := v.Reveal(ctx, b, sealed, "treatment")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(dob))
	// Output:
	// audit: reveal success patient-42 dob treatment
	// 1970-01-01
}

func ExampleVault_BlindIndex() {
	ctx := context.Background()
	v := newExampleVault(phi.VaultConfig{BlindIndexes: map[string]phi.Normalizer{"email": phi.NormalizeEmail}})

	stored, _ := v.BlindIndex(ctx, "email", []byte("Ann@Example.com"))
	query, _ := v.BlindIndex(ctx, "email", []byte(" ann@example.COM"))
	fmt.Println(len(stored), bytes.Equal(stored, query))
	// Output: 32 true
}

func ExampleVault_RotateKEK() {
	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	oldKEK, _ := localkek.New(bytes.Repeat([]byte{1}, 32)) // use localkek.FromDir or Parse in production
	newKEK, _ := localkek.New(bytes.Repeat([]byte{2}, 32))
	v, _ := phi.NewVault(phi.VaultConfig{Keys: store, KEK: oldKEK})
	b := phi.Binding{Subject: "patient-42", Field: "dob"}
	sealed, _ := v.Seal(ctx, b, []byte("1970-01-01"))

	err := v.RotateKEK(ctx, newKEK, func(p phi.Progress) {
		if p.Done {
			fmt.Printf("re-wrapped %d of %d keysets\n", p.Rewrapped, p.Scanned)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	// The data did not change; only the new KEK is needed to open it.
	v2, _ := phi.NewVault(phi.VaultConfig{Keys: store, KEK: newKEK})
	dob, err := v2.Open(ctx, b, sealed)
	fmt.Println(string(dob.Reveal()), err)
	// Output:
	// re-wrapped 1 of 1 keysets
	// 1970-01-01 <nil>
}

func ExampleVault_RotateSubjectKey() {
	ctx := context.Background()
	v := newExampleVault(phi.VaultConfig{})
	b := phi.Binding{Subject: "patient-42", Field: "dob"}
	old, _ := v.Seal(ctx, b, []byte("1970-01-01"))

	if _, err := v.RotateSubjectKey(ctx, "patient-42"); err != nil {
		log.Fatal(err)
	}
	resealed, err := v.Reseal(ctx, b, old) // store this in place of old
	if err != nil {
		log.Fatal(err)
	}
	oh, _ := old.Header()
	nh, _ := resealed.Header()
	fmt.Println(oh.KeyID != nh.KeyID)
	// Output: true
}

func ExampleText() {
	type patient struct {
		Name phi.Text `json:"name"`
		DOB  phi.Date `json:"dob"`
	}
	p := patient{Name: phi.NewText("Ann Example"), DOB: phi.NewDate(1970, 1, 1)}
	js, _ := json.Marshal(p)
	fmt.Printf("%v %+v %s\n", p, p, js)
	fmt.Println(p.Name.Reveal())
	// Output:
	// {[redacted] [redacted]} {Name:[redacted] DOB:[redacted]} {"name":"[redacted]","dob":"[redacted]"}
	// Ann Example
}
