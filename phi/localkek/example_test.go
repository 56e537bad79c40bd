package localkek_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/hipaakit/hipaakit/phi/localkek"
)

func ExampleFromDir() {
	dataDir, err := os.MkdirTemp("", "hipaakit-data-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)

	kek, err := localkek.FromDir(dataDir) // creates kek.key (mode 0600) on first use
	if err != nil {
		log.Fatal(err)
	}
	again, err := localkek.FromDir(dataDir) // later runs read the same key
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(kek.ID(), "local:"), kek.ID() == again.ID())
	// Output: true true
}

func ExampleParse() {
	// The application's main package reads the value, for example from an
	// environment variable or a secret manager; localkek never does.
	encoded, err := localkek.Generate()
	if err != nil {
		log.Fatal(err)
	}
	kek, err := localkek.Parse(encoded)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	wrapped, _ := kek.Wrap(ctx, []byte("keyset bytes"), []byte("patient-42"))
	_, err = kek.Unwrap(ctx, wrapped, []byte("patient-43"))
	fmt.Println(err)
	// Output: phi/localkek: unwrap: phi: authentication failed (tampered or wrong binding)
}
