package hipaakit_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/phi"
)

// ExampleOpen opens a deployment on the embedded defaults (file stores in
// one directory, the master key beside it), seals and opens a value, and
// backs everything up. Setting DatabaseURL, KEK.KMSKeyID or
// Backup.S3Bucket switches to PostgreSQL, AWS KMS or S3 with no other
// change.
func ExampleOpen() {
	base, err := os.MkdirTemp("", "hipaakit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)
	ctx := context.Background()
	d, err := hipaakit.Open(ctx, hipaakit.Config{
		DataDir: filepath.Join(base, "data"),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	b := phi.Binding{Subject: "patient-42", Field: "name"}
	sealed, err := d.Vault.Seal(ctx, b, []byte("Jane Doe"))
	if err != nil {
		log.Fatal(err)
	}
	name, err := d.Vault.Open(ctx, b, sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(name.Reveal()))
	fmt.Println("key inside the data directory:", d.KeyInsideDataDir())
	fmt.Println("key file:", filepath.Base(d.KeyLocation().File))
	set, err := d.BackupSet(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("backup set covers:", strings.Join(set.Covered(), " "))
	// Output:
	// Jane Doe
	// key inside the data directory: false
	// key file: data.master-key
	// backup set covers: audit emergency holds incidents keys ledger signing-keys users
}
