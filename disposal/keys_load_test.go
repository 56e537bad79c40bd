package disposal

import (
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadSigningKeyCreatesOnceAndReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "signing-key.pem")
	if _, err := LoadSigningKey(path, false); !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), dir) {
		t.Fatalf("missing key without create: %v (want ErrNotExist, no path)", err)
	}
	// Racing creators all end up with the one key stored first.
	keys := make([]ed25519.PrivateKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadSigningKey(path, true)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !k.Equal(keys[0]) {
			t.Fatal("concurrent creators got different keys")
		}
	}
	again, err := LoadSigningKey(path, true)
	if err != nil || !again.Equal(keys[0]) {
		t.Fatalf("reload: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", st.Mode(), err)
	}
	pubPEM, err := os.ReadFile(PublicKeyPath(path))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil || !pub.Equal(keys[0].Public()) {
		t.Fatalf("public key file does not match: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 2 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	// A damaged key file is an error, never silently replaced.
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := LoadSigningKey(path, true); err == nil {
		t.Fatal("a damaged key file was accepted")
	}
}
