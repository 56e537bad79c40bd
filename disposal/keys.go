package disposal

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit/durable"
)

// GenerateSigningKey returns a new ed25519 key pair for signing disposal
// certificates. Keep the private key as secret as the KEK: whoever holds it
// can issue certificates. Publish the public key to whoever must verify them.
func GenerateSigningKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("disposal: generate key: %w", err)
	}
	return pub, priv, nil
}

// MarshalPublicKey encodes pub as a PEM "PUBLIC KEY" block (PKIX), the form
// VerifyCertificate's users keep beside their certificates.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: public key", ErrInvalidKey)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey decodes a PEM "PUBLIC KEY" block holding an ed25519 key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: expected a PEM PUBLIC KEY block", ErrInvalidKey)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed public key", ErrInvalidKey)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrInvalidKey)
	}
	return pub, nil
}

// MarshalPrivateKey encodes key as a PEM "PRIVATE KEY" block (PKCS #8). Store
// it with mode 0600, or better in a secret manager.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: private key", ErrInvalidKey)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey decodes a PEM "PRIVATE KEY" block holding an ed25519 key.
// Its errors never contain key material.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: expected a PEM PRIVATE KEY block", ErrInvalidKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed private key", ErrInvalidKey)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an ed25519 key", ErrInvalidKey)
	}
	return priv, nil
}

// PublicKeyPath is where LoadSigningKey keeps the public key of the private
// key file path: "key.pem" → "key.pub.pem".
func PublicKeyPath(path string) string { return strings.TrimSuffix(path, ".pem") + ".pub.pem" }

// LoadSigningKey reads the PEM (PKCS#8) ed25519 private key at path. When the
// file does not exist and create is set, it generates a key, stores it with
// mode 0600 and its public key (PublicKeyPath, mode 0644) beside it, and
// returns it. Creation is atomic and exclusive: a crash leaves no partial key
// file, and when two processes race, both end up with the one key that was
// stored first. Errors never name the path.
func LoadSigningKey(path string, create bool) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return ParsePrivateKey(data)
	}
	if !create || !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("disposal: read signing key: %w", durable.WithoutPath(err))
	}
	pub, priv, err := GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	privPEM, err := MarshalPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubPEM, err := MarshalPublicKey(pub)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("disposal: create key directory: %w", durable.WithoutPath(err))
	}
	// Write a temporary file, then hard-link it into place: the link fails
	// if another process stored a key first, and never exposes a partial file.
	tmp, err := writeTemp(dir, privPEM)
	if err != nil {
		return nil, fmt.Errorf("disposal: write signing key: %w", durable.WithoutPath(err))
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return LoadSigningKey(path, false)
	} else if err != nil {
		return nil, fmt.Errorf("disposal: store signing key: %w", durable.WithoutPath(err))
	}
	if err := durable.SyncDir(dir); err != nil {
		return nil, err
	}
	if err := durable.WriteFileAtomic(PublicKeyPath(path), pubPEM, 0o644); err != nil {
		return nil, fmt.Errorf("disposal: write public key: %w", durable.WithoutPath(err))
	}
	return priv, nil
}

// writeTemp writes data to a new mode-0600 temporary file in dir, synced,
// and returns its name.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".signing-key-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
