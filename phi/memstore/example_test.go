package memstore_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

func ExampleNew() {
	kek, err := localkek.New(bytes.Repeat([]byte{7}, localkek.KeySize)) // a fixed test key
	if err != nil {
		log.Fatal(err)
	}
	v, err := phi.NewVault(phi.VaultConfig{Keys: memstore.New(memstore.Config{}), KEK: kek})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	b := phi.Binding{Subject: "patient-42", Field: "name"}
	sealed, _ := v.Seal(ctx, b, []byte("Ann Example"))
	name, _ := v.Open(ctx, b, sealed)
	fmt.Println(name, name.Text().Reveal())
	// Output: [redacted] Ann Example
}
