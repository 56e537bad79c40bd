package disposal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
	"github.com/hipaakit/hipaakit/signing"
)

func ExampleShredder_Shred() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "disposal-example")
	defer os.RemoveAll(dir)

	kek, _ := localkek.New(make([]byte, 32)) // use localkek.FromDir or AWS KMS in production
	keys := memstore.New(memstore.Config{})  // phi/filestore or phi/pgstore in production
	vault, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	signingKey, _ := signing.Generate() // signing.LoadOrCreate(path) in production
	store, _ := disposal.OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Signer: signingKey})
	ledger := disposal.NewLedger(store)
	defer ledger.Close()
	shredder, _ := disposal.New(disposal.Config{
		Vault: vault, Keys: keys, Ledger: ledger, Audit: audit.Discard{},
		Holds: disposal.NoHolds{}, SigningKey: signingKey,
	})

	b := phi.Binding{Subject: "patient-42", Field: "dob"}
	sealed, _ := vault.Seal(ctx, b, []byte("1970-01-01"))

	res, err := shredder.Shred(ctx, "patient-42", "patient request", disposal.By(audit.Actor{UserID: "user-7"}))
	fmt.Println("shred error:", err)
	trusted, _ := signing.NewKeySet(signingKey.PublicKey())
	cert, err := disposal.VerifyCertificate(res.Signed, trusted)
	fmt.Println("certificate valid:", err == nil, cert.Subject, cert.Method, "ledger entry", cert.Ledger.Seq)
	_, err = vault.Open(ctx, b, sealed)
	fmt.Println("open after shred is ErrShredded:", errors.Is(err, phi.ErrShredded))
	// Output:
	// shred error: <nil>
	// certificate valid: true patient-42 cryptographic erase ledger entry 1
	// open after shred is ErrShredded: true
}

func ExampleVerifyCertificate() {
	data, _ := os.ReadFile("testdata/certificate_v1.json")
	pemBytes, _ := os.ReadFile("testdata/signing_key_v1.pub.pem")
	trusted, _ := signing.ParseKeySet(pemBytes) // one or more PEM public keys
	cert, err := disposal.VerifyCertificate(data, trusted)
	fmt.Println(err, cert.Subject, cert.Time.Format("2006-01-02"), cert.KeyIDs)

	altered := bytes.Replace(data, []byte(`"actor": "user-42"`), []byte(`"actor": "user-43"`), 1)
	_, err = disposal.VerifyCertificate(altered, trusted)
	fmt.Println(err)
	// Output:
	// <nil> patient-7f3a 2026-03-01 [17 1234567]
	// disposal: invalid certificate: statement hash does not match
}

func ExampleLedger_Replay() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "disposal-example")
	defer os.RemoveAll(dir)
	signingKey, _ := signing.Generate()
	store, _ := disposal.OpenFileLedgerStore(ctx, filepath.Join(dir, "ledger"), disposal.FileLedgerOptions{Signer: signingKey})
	ledger := disposal.NewLedger(store)
	defer ledger.Close()

	kek, _ := localkek.New(make([]byte, 32))
	keys := memstore.New(memstore.Config{})
	vault, _ := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	vault.Seal(ctx, phi.Binding{Subject: "patient-1", Field: "dob"}, []byte("x"))
	shredder, _ := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: ledger, Audit: audit.Discard{}, Holds: disposal.NoHolds{}, SigningKey: signingKey})
	shredder.Shred(ctx, "patient-1", "request")

	// A key store restored from a backup taken before the shred: replay the
	// ledger into it before the service uses it.
	restored := memstore.New(memstore.Config{})
	n, err := ledger.Replay(ctx, restored)
	_, getErr := restored.Get(ctx, "patient-1")
	fmt.Println(n, err, errors.Is(getErr, phi.ErrShredded))
	// Output: 1 <nil> true
}

func ExampleErase() {
	dir, _ := os.MkdirTemp("", "erase-example")
	defer os.RemoveAll(dir)
	export := filepath.Join(dir, "export.csv")
	os.WriteFile(export, []byte("id,value\n"), 0o600)
	err := disposal.Erase(context.Background(), export)
	_, statErr := os.Stat(export)
	fmt.Println(err, errors.Is(statErr, os.ErrNotExist))
	// Output: <nil> true
}
