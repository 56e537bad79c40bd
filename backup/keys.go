package backup

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"time"

	"github.com/restic/chunker"

	"github.com/hipaakit/hipaakit/phi"
)

// configName is the object that holds the repository configuration.
const configName = "config"

// configFormat identifies a repository configuration object.
const configFormat = "hipaakit-backup"

// FormatVersion is the version of the repository format this package writes
// (see FORMAT.md). It reads every version from 1 to FormatVersion; a
// repository of one version holds backups of any earlier one, and new
// backups into a version-1 repository are written in version 2.
const FormatVersion = 2

// repoConfig is the "config" object: public parameters and the repository key
// wrapped by the KEK. Nothing in it is secret.
type repoConfig struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	Repo       string    `json:"repo"`
	KEKID      string    `json:"kek_id"`
	WrappedKey []byte    `json:"wrapped_key"`
	ChunkSize  int       `json:"chunk_size"` // version 1: the fixed chunk size; 2: the average
	Created    time.Time `json:"created"`
}

// repoKeys are the subkeys derived from the repository key.
type repoKeys struct {
	repoID   [16]byte
	nameKey  []byte             // HMAC-SHA256 key naming chunks
	chunk    cipher.AEAD        // AES-256-GCM over chunks
	envelope cipher.AEAD        // AES-256-GCM over manifests and records
	sign     ed25519.PrivateKey // signs envelopes
	verify   ed25519.PublicKey
	pol      chunker.Pol // secret polynomial of content-defined chunking
}

// wrapAD is the associated data under which the KEK wraps a repository key.
func wrapAD(repo string) []byte {
	return []byte("hipaakit-backup/repo-key/v1:" + repo)
}

func deriveKeys(repoID [16]byte, master []byte) (*repoKeys, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("%w: repository key has wrong length", ErrWrongKey)
	}
	sub := func(label string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, master, repoID[:], "hipaakit-backup/v1/"+label, n)
	}
	nameKey, err := sub("chunk-name", 32)
	if err != nil {
		return nil, err
	}
	ck, err := sub("chunk-aead", 32)
	if err != nil {
		return nil, err
	}
	ek, err := sub("envelope-aead", 32)
	if err != nil {
		return nil, err
	}
	seed, err := sub("envelope-sign", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	k := &repoKeys{repoID: repoID, nameKey: nameKey}
	if k.chunk, err = newGCM(ck); err != nil {
		return nil, err
	}
	if k.envelope, err = newGCM(ek); err != nil {
		return nil, err
	}
	k.sign = ed25519.NewKeyFromSeed(seed)
	k.verify = k.sign.Public().(ed25519.PublicKey)
	if k.pol, err = derivePolynomial(master, repoID); err != nil {
		return nil, err
	}
	return k, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("backup: cipher: %w", err)
	}
	return cipher.NewGCM(b)
}

// newNameHash returns a keyed hash for naming chunks.
func (k *repoKeys) newNameHash() hash.Hash { return hmac.New(sha256.New, k.nameKey) }

// newConfig creates a repository key, wraps it with kek and returns the
// configuration and the derived keys.
func newConfig(ctx context.Context, kek phi.KEK, chunkSize int, now time.Time) (*repoConfig, *repoKeys, error) {
	var id [16]byte
	master := make([]byte, 32)
	if _, err := rand.Read(id[:]); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(master); err != nil {
		return nil, nil, err
	}
	defer clear(master)
	repo := hex.EncodeToString(id[:])
	wrapped, err := kek.Wrap(ctx, master, wrapAD(repo))
	if err != nil {
		return nil, nil, fmt.Errorf("backup: wrap repository key: %w", err)
	}
	keys, err := deriveKeys(id, master)
	if err != nil {
		return nil, nil, err
	}
	return &repoConfig{
		Format: configFormat, Version: FormatVersion, Repo: repo, KEKID: kek.ID(),
		WrappedKey: wrapped, ChunkSize: chunkSize, Created: now.UTC(),
	}, keys, nil
}

// parseConfig decodes and checks a configuration object.
func parseConfig(b []byte) (*repoConfig, [16]byte, error) {
	var c repoConfig
	var id [16]byte
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, id, corruptf("configuration is not valid")
	}
	if dec.More() {
		return nil, id, corruptf("trailing data after configuration")
	}
	if c.Format != configFormat {
		return nil, id, corruptf("not a hipaakit backup repository")
	}
	if c.Version < 1 || c.Version > FormatVersion {
		return nil, id, fmt.Errorf("%w: repository version %d", ErrUnsupportedVersion, c.Version)
	}
	raw, err := hex.DecodeString(c.Repo)
	if err != nil || len(raw) != 16 || hex.EncodeToString(raw) != c.Repo {
		return nil, id, corruptf("repository id is malformed")
	}
	copy(id[:], raw)
	if c.Version == 1 && (c.ChunkSize < MinChunkSize || c.ChunkSize > MaxChunkSize) ||
		c.Version > 1 && !validAverage(c.ChunkSize) {
		return nil, id, corruptf("chunk size out of range")
	}
	if len(c.WrappedKey) == 0 {
		return nil, id, corruptf("repository key missing")
	}
	return &c, id, nil
}

// unlock unwraps the repository key with kek.
func (c *repoConfig) unlock(ctx context.Context, id [16]byte, kek phi.KEK) (*repoKeys, error) {
	master, err := kek.Unwrap(ctx, c.WrappedKey, wrapAD(c.Repo))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, objErr("unlock", configName, fmt.Errorf("%w: the KEK does not unwrap the repository key (%v)", ErrWrongKey, err))
	}
	defer clear(master)
	k, err := deriveKeys(id, master)
	if err != nil {
		return nil, objErr("unlock", configName, err)
	}
	return k, nil
}
