package signing_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/signing"
)

func TestKeyIDIsSHA256Prefix(t *testing.T) {
	// Golden: the key of disposal's certificate_v1.json golden vector,
	// whose signature block names key_id 3097e2dee2cb4a34.
	data, err := os.ReadFile("testdata/golden_v1.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if enc, _ := signing.EncodePublicKey(pub); !bytes.Equal(enc, data) {
		t.Fatalf("EncodePublicKey changed the persisted form:\n%s", enc)
	}
	if got, want := signing.KeyID(pub), "3097e2dee2cb4a34"; got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}
}

func TestPrivateKeyRoundTripAndSign(t *testing.T) {
	k, err := signing.Generate()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := k.ExportPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := signing.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !back.PublicKey().Equal(k.PublicKey()) || back.KeyID() != k.KeyID() {
		t.Fatal("parsed key differs")
	}
	msg := []byte("message")
	sig, err := k.Sign(rand.Reader, msg, crypto.SHA256)
	if err == nil {
		t.Fatal("Sign with a hash option should fail")
	}
	sig, err = back.Sign(nil, msg, ed25519Opts)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := signing.NewKeySet(k.PublicKey())
	if err := set.Verify(k.KeyID(), msg, sig); err != nil {
		t.Fatal(err)
	}
	var zero signing.PrivateKey
	if _, err := zero.Sign(nil, msg, ed25519Opts); err == nil || zero.Public() != nil {
		t.Fatal("zero key signs")
	}
}

var ed25519Opts = &ed25519.Options{}

func TestParseErrorsAreTyped(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPriv, _ := x509.MarshalPKCS8PrivateKey(ec)
	k, _ := signing.Generate()
	privPEM, _ := k.ExportPEM()
	pubPEM, _ := signing.EncodePublicKey(k.PublicKey())
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, signing.ErrMalformedKey},
		{"hex", []byte(strings.Repeat("ab", 32)), signing.ErrMalformedKey},
		{"private as public", privPEM, signing.ErrMalformedKey},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), signing.ErrMalformedKey},
		{"two keys", append(append([]byte{}, pubPEM...), pubPEM...), signing.ErrMalformedKey},
		{"ecdsa", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}), signing.ErrNotEd25519},
	} {
		if _, err := signing.ParsePublicKey(c.in); !errors.Is(err, c.want) || !strings.HasPrefix(err.Error(), "signing: ") {
			t.Errorf("ParsePublicKey(%s) = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := signing.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPriv})); !errors.Is(err, signing.ErrNotEd25519) {
		t.Errorf("ecdsa private key: %v", err)
	}
	if _, err := signing.ParsePrivateKey(pubPEM); !errors.Is(err, signing.ErrMalformedKey) {
		t.Errorf("public as private: %v", err)
	}
	if _, err := signing.EncodePublicKey(make([]byte, 31)); !errors.Is(err, signing.ErrMalformedKey) {
		t.Errorf("short key: %v", err)
	}
}

func TestKeySetRotation(t *testing.T) {
	old, _ := signing.Generate()
	cur, _ := signing.Generate()
	set, err := signing.NewKeySet(cur.PublicKey(), old.PublicKey(), cur.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (duplicates count once)", set.Len())
	}
	msg := []byte("checkpoint")
	oldSig, _ := old.Sign(nil, msg, ed25519Opts)
	if err := set.Verify(old.KeyID(), msg, oldSig); err != nil {
		t.Fatalf("old key after rotation: %v", err)
	}
	if err := set.Verify(cur.KeyID(), msg, oldSig); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("signature under the wrong key ID: %v", err)
	}
	stranger, _ := signing.Generate()
	sig, _ := stranger.Sign(nil, msg, ed25519Opts)
	if err := set.Verify(stranger.KeyID(), msg, sig); !errors.Is(err, signing.ErrUnknownKey) {
		t.Fatalf("untrusted key: %v", err)
	}
	if err := set.Verify("\x00<script>", msg, sig); !errors.Is(err, signing.ErrUnknownKey) || strings.ContainsAny(err.Error(), "\x00<") {
		t.Fatalf("hostile key ID: %v", err)
	}
	var zero signing.KeySet
	if err := zero.Verify(cur.KeyID(), msg, oldSig); !errors.Is(err, signing.ErrUnknownKey) {
		t.Fatalf("zero set trusts: %v", err)
	}
	back, err := signing.ParseKeySet(set.EncodePEM())
	if err != nil || back.Len() != 2 || !back.Keys()[0].Equal(cur.PublicKey()) {
		t.Fatalf("ParseKeySet round trip: %v", err)
	}
	if pems := set.PEMs(); len(pems) != 2 || pems[1] != string(old.PublicKeyPEM()) {
		t.Fatalf("PEMs = %q", pems)
	}
	more, err := set.With(stranger.PublicKey())
	if err != nil || more.Len() != 3 || set.Len() != 2 {
		t.Fatalf("With: %v (set must stay unchanged)", err)
	}
	if _, err := signing.NewKeySet(make([]byte, 5)); !errors.Is(err, signing.ErrMalformedKey) {
		t.Fatalf("short key in set: %v", err)
	}
	if _, err := signing.ParseKeySet([]byte("no pem here")); !errors.Is(err, signing.ErrMalformedKey) {
		t.Fatalf("empty key set file: %v", err)
	}
}

func TestSaveLoadFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "signing-key.pem")
	if _, err := signing.Load(path); !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), dir) {
		t.Fatalf("Load of a missing file = %v (must be ErrNotExist without the path)", err)
	}
	k, _ := signing.Generate()
	if err := signing.Save(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	pub, err := os.ReadFile(signing.PublicKeyPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := signing.ParsePublicKey(pub); err != nil || !p.Equal(k.PublicKey()) {
		t.Fatalf("public key file: %v", err)
	}
	other, _ := signing.Generate()
	if err := signing.Save(path, other); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Save over an existing key = %v, want ErrExist", err)
	}
	back, err := signing.LoadOrCreate(path)
	if err != nil || back.KeyID() != k.KeyID() {
		t.Fatalf("LoadOrCreate of an existing key: %v", err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadOrCreate(path); !errors.Is(err, signing.ErrMalformedKey) {
		t.Fatalf("corrupt key file = %v, want ErrMalformedKey (never replaced)", err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "sub", ".signing-key-*"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

func TestLoadOrCreateRaceStoresOneKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	const n = 8
	ids := make([]string, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			k, err := signing.LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.KeyID()
		})
	}
	start.Done()
	done.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("racing creators got different keys: %v", ids)
		}
	}
}
