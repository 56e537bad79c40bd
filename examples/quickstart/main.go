// Command quickstart shows hipaakit's phi package on its embedded defaults
// (a file key store in the data directory, and a local master key in a file
// beside it, never inside it, so that a copy of the data decrypts nothing;
// hipaakit.Open lays a deployment out the same way): it seals
// a patient's fields under the patient's own key, opens them, finds the
// patient by a blind index on the e-mail address, shreds the patient and
// shows that the data can no longer be opened.
//
//	go run ./examples/quickstart
//
// It works in a fresh temporary data directory and removes it at exit.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// row is how an application might store a patient: sealed fields, and the
// blind index of the e-mail address for lookups.
type row struct {
	id         string
	name, dob  phi.Sealed
	email      phi.Sealed
	emailIndex string
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "hipaakit-quickstart-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(out, "Data directory: %s (removed at exit)\n\n", dir)

	// 1. The embedded defaults: keys in <data>/keys; the master key beside
	// the data directory, in <data>.master-key (created 0600 on first use;
	// the suffix is hipaakit.DefaultKeyFileSuffix).
	data := filepath.Join(dir, "data")
	store, err := filestore.Open(filepath.Join(data, "keys"), filestore.Config{})
	if err != nil {
		return err
	}
	kek, err := localkek.FromFile(data + ".master-key")
	if err != nil {
		return err
	}
	trail := audit.WriterFunc(func(_ context.Context, e audit.Event) error {
		fmt.Fprintf(out, "   audit: %s %s of %s.%s for %q\n", e.Action, e.Outcome, e.Target.Subject, e.Target.Field, e.Purpose)
		return nil
	})
	vault, err := phi.NewVault(phi.VaultConfig{Keys: store, KEK: kek, Audit: trail,
		BlindIndexes: map[string]phi.Normalizer{"email": phi.NormalizeEmail}})
	if err != nil {
		return err
	}

	// 2. Seal a patient's fields. The patient ID is opaque, never PHI.
	patient := "patient-" + randomID()
	fields := map[string]string{"name": "Ann Example", "dob": "1970-01-01", "email": "ann@example.com"}
	sealed := map[string]phi.Sealed{}
	fmt.Fprintf(out, "1. Sealed the fields of %s under the patient's own key:\n", patient)
	for _, f := range []string{"name", "dob", "email"} {
		s, err := vault.Seal(ctx, phi.Binding{Subject: patient, Field: f}, []byte(fields[f]))
		if err != nil {
			return err
		}
		sealed[f] = s
		fmt.Fprintf(out, "   %-5s -> %v\n", f, s)
	}
	idx, err := vault.BlindIndex(ctx, "email", []byte(fields["email"]))
	if err != nil {
		return err
	}
	table := []row{{id: patient, name: sealed["name"], dob: sealed["dob"], email: sealed["email"], emailIndex: hex.EncodeToString(idx)}}

	// 3. Open them. Open returns redacting values; Reveal is audited.
	name, err := vault.Open(ctx, phi.Binding{Subject: patient, Field: "name"}, table[0].name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n2. Opened the name. Printed, logged or marshalled it shows: %v\n", name)
	dob, err := vault.Reveal(ctx, phi.Binding{Subject: patient, Field: "dob"}, table[0].dob, "treatment")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   Revealed the date of birth (audited): %s\n", dob)

	// 4. Find the patient by e-mail without decrypting every row.
	q, err := vault.BlindIndex(ctx, "email", []byte("  Ann@Example.COM "))
	if err != nil {
		return err
	}
	for _, r := range table {
		if r.emailIndex == hex.EncodeToString(q) {
			fmt.Fprintf(out, "\n3. Looked up \"Ann@Example.COM\" by its blind index: found %s\n", r.id)
		}
	}

	// 5. Crypto-shred the patient: one keyset destroyed, every copy unreadable.
	destroyed, err := vault.Shred(ctx, patient)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n4. Shredded %s: %d key destroyed\n", patient, len(destroyed))
	_, err = vault.Open(ctx, phi.Binding{Subject: patient, Field: "name"}, table[0].name)
	if !errors.Is(err, phi.ErrShredded) {
		return fmt.Errorf("expected ErrShredded after the shred, got %v", err)
	}
	fmt.Fprintf(out, "   Opening the name now fails: %v (errors.Is(err, phi.ErrShredded) = true)\n", err)
	return nil
}

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
