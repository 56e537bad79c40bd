package evidence

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"os"
	"testing"

	"github.com/hipaakit/hipaakit/signing"
)

var update = flag.Bool("update", false, "rewrite the golden signature")

// TestGoldenSignature: the committed version 1 signature of
// testdata/golden/vector.txt (key from a fixed seed) still verifies and
// is what Sign writes, so later code keeps reading today's files.
func TestGoldenSignature(t *testing.T) {
	key, err := signing.NewPrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile("testdata/golden/vector.txt")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign("vector.txt", content, key)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/golden/vector.txt.sig", sig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile("testdata/golden/vector.txt.sig")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, golden) {
		t.Fatalf("Sign no longer writes the golden signature:\n%s\nwant\n%s", sig, golden)
	}
	ks, _ := signing.NewKeySet(key.PublicKey())
	if _, err := Verify("vector.txt", content, golden, ks); err != nil {
		t.Fatal(err)
	}
}
