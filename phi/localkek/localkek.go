package localkek

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit/durable"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit/phi"
)

// KeySize is the master key size in bytes.
const KeySize = 32

// FileName is the key file's name inside a data directory (see FromDir).
const FileName = "kek.key"

// encodingPrefix starts every encoded key (format version 1).
const encodingPrefix = "hipaakit-local-kek-v1:"

// Wrapped-key format version 1: 0x01 || nonce (12) || ciphertext || tag (16).
const (
	wrapV1   = 0x01
	nonceLen = 12
	overhead = 1 + nonceLen + 16
)

// ErrInvalidKey reports a key that is not 32 bytes or not in the encoding
// Parse accepts. Its message never contains the key.
var ErrInvalidKey = errors.New("phi/localkek: invalid master key")

// KEK is a local master key. It is safe for concurrent use.
type KEK struct {
	aead cipher.AEAD
	id   string
}

var _ phi.KEK = (*KEK)(nil)

// New returns a KEK for the 32-byte master key. It keeps no reference to key.
func New(key []byte) (*KEK, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidKey, KeySize, len(key))
	}
	wk, err := hkdf.Key(sha256.New, key, nil, "hipaakit.localkek.v1.wrap", 32)
	if err != nil {
		return nil, errors.New("phi/localkek: key derivation failed")
	}
	fp, err := hkdf.Key(sha256.New, key, nil, "hipaakit.localkek.v1.id", 8)
	if err != nil {
		return nil, errors.New("phi/localkek: key derivation failed")
	}
	block, err := aes.NewCipher(wk)
	clear(wk)
	if err != nil {
		return nil, errors.New("phi/localkek: cannot create cipher")
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errors.New("phi/localkek: cannot create cipher")
	}
	return &KEK{aead: a, id: "local:" + hex.EncodeToString(fp)}, nil
}

// Parse returns a KEK for an encoded key (see Encode), for example a value
// the application read from an environment variable or a secret manager.
// Surrounding white space is ignored.
func Parse(encoded string) (*KEK, error) {
	key, err := decode(encoded)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return New(key)
}

// Generate returns a new random master key, encoded (see Encode).
func Generate() (string, error) {
	key := make([]byte, KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return "", errors.New("phi/localkek: no randomness")
	}
	return Encode(key), nil
}

// Encode returns the text form of a master key: "hipaakit-local-kek-v1:"
// and the key in unpadded base64url.
func Encode(key []byte) string {
	return encodingPrefix + base64.RawURLEncoding.EncodeToString(key)
}

func decode(encoded string) ([]byte, error) {
	s, ok := strings.CutPrefix(strings.TrimSpace(encoded), encodingPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: missing %q prefix", ErrInvalidKey, encodingPrefix)
	}
	key, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(key) != KeySize {
		clear(key)
		return nil, fmt.Errorf("%w: want %d bytes in unpadded base64url", ErrInvalidKey, KeySize)
	}
	return key, nil
}

// FromFile returns the KEK whose key is in the file at path. When the file
// does not exist, FromFile generates a key and writes it there first (mode
// 0600, atomically and durably); the directory must exist. A key file that
// group or others can access is refused.
func FromFile(path string) (*KEK, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		enc, gerr := Generate()
		if gerr != nil {
			return nil, gerr
		}
		if werr := createExclusive(path, []byte(enc+"\n")); werr != nil {
			return nil, werr
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("phi/localkek: read key file %s: %w", filepath.Base(path), durable.WithoutPath(err))
	}
	defer clear(b)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("phi/localkek: stat key file %s: %w", filepath.Base(path), durable.WithoutPath(err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("phi/localkek: key file %s is accessible by group or others (mode %v); chmod 600 it", filepath.Base(path), fi.Mode().Perm())
	}
	return Parse(string(b))
}

// createExclusive creates path holding data, durably, unless path exists
// already (another process created its key first: that one wins); see
// createExclusive. The data
// goes to a temporary file that is then hard-linked to path, which fails if
// path exists, so no reader ever sees a partial key and no key is replaced.
func createExclusive(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("phi/localkek: create key file: %w", durable.WithoutPath(err))
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err = f.Chmod(0o600); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("phi/localkek: write key file: %w", durable.WithoutPath(err))
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("phi/localkek: create key file: %w", durable.WithoutPath(err))
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("phi/localkek: remove temporary file: %w", durable.WithoutPath(err))
	}
	return durable.SyncDir(dir)
}

// FromDir returns the KEK whose key is in FileName inside dataDir, creating
// dataDir (mode 0700) and the key file on first use (see FromFile).
func FromDir(dataDir string) (*KEK, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("phi/localkek: create data directory: %w", durable.WithoutPath(err))
	}
	return FromFile(filepath.Join(dataDir, FileName))
}

// ID returns "local:" and a 16-hex-digit fingerprint of the master key.
func (k *KEK) ID() string { return k.id }

// Wrap encrypts plaintext, authenticating associatedData.
func (k *KEK) Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceLen, overhead+len(plaintext))
	out[0] = wrapV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, errors.New("phi/localkek: no randomness")
	}
	return k.aead.Seal(out, out[1:], plaintext, associatedData), nil
}

// Unwrap decrypts ciphertext made by Wrap with the same associatedData. It
// fails with an error matching phi.ErrTampered when the ciphertext is not
// authentic for this key and associatedData.
func (k *KEK) Unwrap(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ciphertext) < overhead || ciphertext[0] != wrapV1 {
		return nil, fmt.Errorf("phi/localkek: unwrap: %w", phi.ErrTampered)
	}
	pt, err := k.aead.Open(nil, ciphertext[1:1+nonceLen], ciphertext[1+nonceLen:], associatedData)
	if err != nil {
		return nil, fmt.Errorf("phi/localkek: unwrap: %w", phi.ErrTampered)
	}
	return pt, nil
}
