package signing

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit/durable"
)

// PublicKeyPath is where Save keeps the public key of the private key file
// path: "key.pem" → "key.pub.pem".
func PublicKeyPath(path string) string { return strings.TrimSuffix(path, ".pem") + ".pub.pem" }

// Load reads the private key file at path. A missing file fails with an
// error matching fs.ErrNotExist. Errors never name the path.
func Load(path string) (*PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing: read key file: %w", durable.WithoutPath(err))
	}
	return ParsePrivateKey(data)
}

// Save stores k at path with mode 0600 (PEM PKCS #8) and its public key at
// PublicKeyPath(path) with mode 0644, creating the directory (0700) if
// needed. It never overwrites a key: when path exists it fails with an error
// matching fs.ErrExist. The private key file appears atomically, complete
// and synced, or not at all.
func Save(path string, k *PrivateKey) error {
	privPEM, err := k.ExportPEM()
	if err != nil {
		return err
	}
	pubPEM, err := EncodePublicKey(k.PublicKey())
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("signing: create key directory: %w", durable.WithoutPath(err))
	}
	// Write a temporary file, then hard-link it into place: the link fails
	// if a key is already there, and never exposes a partial file.
	tmp, err := writeTemp(dir, privPEM)
	if err != nil {
		return fmt.Errorf("signing: write key file: %w", durable.WithoutPath(err))
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("signing: store key file: %w", durable.WithoutPath(err))
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("signing: sync key directory: %w", durable.WithoutPath(err))
	}
	if err := durable.WriteFileAtomic(PublicKeyPath(path), pubPEM, 0o644); err != nil {
		return fmt.Errorf("signing: write public key file: %w", durable.WithoutPath(err))
	}
	return nil
}

// LoadOrCreate loads the private key at path, or, when there is none,
// generates one and stores it with Save. When two processes race, both
// return the key stored first.
func LoadOrCreate(path string) (*PrivateKey, error) {
	k, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = Generate(); err != nil {
		return nil, err
	}
	if err := Save(path, k); errors.Is(err, fs.ErrExist) {
		return Load(path)
	} else if err != nil {
		return nil, err
	}
	return k, nil
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
