package signing_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/signing"
)

// A deployment keeps one signing key file; after a rotation its trusted set
// holds the new key and the old one, and each signature verifies with the
// key its key ID names.
func ExampleKeySet() {
	dir, _ := os.MkdirTemp("", "signing-example")
	defer os.RemoveAll(dir)

	old, _ := signing.LoadOrCreate(filepath.Join(dir, "signing-key.pem")) // 0600, created once
	msg := []byte("checkpoint")
	oldSig, _ := old.Sign(nil, msg, nil)

	current, _ := signing.Generate()
	_ = signing.Save(filepath.Join(dir, "signing-key-2.pem"), current)
	trusted, _ := signing.NewKeySet(current.PublicKey(), old.PublicKey())

	fmt.Println(trusted.Verify(old.KeyID(), msg, oldSig))
	stranger, _ := signing.Generate()
	err := trusted.Verify(stranger.KeyID(), msg, oldSig)
	fmt.Println(errors.Is(err, signing.ErrUnknownKey))
	fmt.Println(old) // key holders print as a redaction
	// Output:
	// <nil>
	// true
	// signing.PrivateKey{[redacted]}
}
