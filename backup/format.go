package backup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Chunk sizes.
const (
	// DefaultChunkSize is the fixed chunk size of a new repository.
	DefaultChunkSize = 4 << 20
	// MinChunkSize and MaxChunkSize bound the chunk size of a repository.
	MinChunkSize = 64 << 10
	MaxChunkSize = 64 << 20
)

// Object name prefixes.
const (
	chunkPrefix    = "chunks/"
	manifestPrefix = "manifests/"
	verifiedPrefix = "verified/"
	lockPrefix     = "locks/"
)

// Chunk object layout (see FORMAT.md):
//
//	magic "HKBC" | version (1 byte) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// with associated data chunkAD || repository ID || raw chunk name.
const (
	chunkMagic     = "HKBC"
	chunkVersion   = 1
	nonceSize      = 12
	tagSize        = 16
	chunkHeaderLen = len(chunkMagic) + 1 + nonceSize
	// ChunkOverhead is the number of bytes a stored chunk adds to its plaintext.
	ChunkOverhead = chunkHeaderLen + tagSize
	chunkAD       = "hipaakit-backup/chunk/v1\x00"
)

// chunkObject returns the object name of a chunk.
func chunkObject(name [32]byte) string {
	h := hex.EncodeToString(name[:])
	return chunkPrefix + h[:2] + "/" + h
}

// parseChunkObject returns the chunk name encoded in an object name.
func parseChunkObject(obj string) ([32]byte, bool) {
	var n [32]byte
	if len(obj) != len(chunkPrefix)+3+64 || obj[:len(chunkPrefix)] != chunkPrefix {
		return n, false
	}
	h := obj[len(chunkPrefix)+3:]
	if obj[len(chunkPrefix):len(chunkPrefix)+3] != h[:2]+"/" {
		return n, false
	}
	return n, decodeHex(n[:], h)
}

func (k *repoKeys) chunkAD(dst []byte, name [32]byte) []byte {
	dst = append(dst[:0], chunkAD...)
	dst = append(dst, k.repoID[:]...)
	return append(dst, name[:]...)
}

// sealChunk appends the stored form of plaintext, named name, to dst.
func (k *repoKeys) sealChunk(dst, plaintext []byte, name [32]byte, ad []byte) ([]byte, error) {
	dst = append(dst[:0], chunkMagic...)
	dst = append(dst, chunkVersion)
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	dst = append(dst, nonce[:]...)
	return k.chunk.Seal(dst, nonce[:], plaintext, k.chunkAD(ad, name)), nil
}

// ParseChunk splits a stored chunk into its nonce and ciphertext, checking
// its structure only (authentication needs the repository key). It never
// panics, whatever b holds.
func ParseChunk(b []byte) (nonce, ciphertext []byte, err error) {
	if len(b) < ChunkOverhead {
		return nil, nil, corruptf("chunk too short")
	}
	if string(b[:len(chunkMagic)]) != chunkMagic {
		return nil, nil, corruptf("not a chunk")
	}
	if v := b[len(chunkMagic)]; v != chunkVersion {
		return nil, nil, fmt.Errorf("%w: chunk version %d", ErrUnsupportedVersion, v)
	}
	return b[len(chunkMagic)+1 : chunkHeaderLen], b[chunkHeaderLen:], nil
}

// openChunk authenticates and decrypts a stored chunk into dst and checks
// that its keyed hash is name and its length is size.
func (k *repoKeys) openChunk(dst, stored []byte, name [32]byte, size int, ad []byte) ([]byte, error) {
	nonce, ct, err := ParseChunk(stored)
	if err != nil {
		return nil, err
	}
	if len(ct)-tagSize != size {
		return nil, corruptf("chunk has the wrong size")
	}
	pt, err := k.chunk.Open(dst[:0], nonce, ct, k.chunkAD(ad, name))
	if err != nil {
		return nil, corruptf("chunk fails authentication")
	}
	h := k.newNameHash()
	h.Write(pt)
	var got [32]byte
	h.Sum(got[:0])
	if got != name {
		return nil, corruptf("chunk content does not match its name")
	}
	return pt, nil
}

// Envelope layout (manifests and verification records, see FORMAT.md):
//
//	magic "HKBE" | version (1) | type (1) | repository ID (16) | object ID (16) |
//	nonce (12) | AES-256-GCM ciphertext and tag (AD: the 50 header bytes) |
//	ed25519 signature (64) over envelopeSigContext || every byte before it
const (
	envelopeMagic      = "HKBE"
	envelopeVersion    = 1
	envelopeHeaderLen  = len(envelopeMagic) + 1 + 1 + 16 + 16 + nonceSize
	envelopeMinLen     = envelopeHeaderLen + tagSize + ed25519.SignatureSize
	envelopeSigContext = "hipaakit-backup/envelope/v1\x00"

	envManifest byte = 1
	envVerified byte = 2

	// MaxEnvelopeSize bounds a manifest or record object (256 MiB).
	MaxEnvelopeSize = 256 << 20
)

// Envelope is a parsed, not yet authenticated, manifest or record object.
type Envelope struct {
	Version    byte
	Type       byte
	Repo       [16]byte
	ID         [16]byte
	Nonce      []byte
	Ciphertext []byte
	Signature  []byte
	signed     []byte // every byte before the signature
}

// ParseEnvelope checks the structure of a manifest or record object without
// authenticating it. It never panics, whatever b holds.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) < envelopeMinLen {
		return nil, corruptf("envelope too short")
	}
	if len(b) > MaxEnvelopeSize {
		return nil, corruptf("envelope too large")
	}
	if string(b[:4]) != envelopeMagic {
		return nil, corruptf("not a manifest or record")
	}
	e := &Envelope{Version: b[4], Type: b[5]}
	if e.Version != envelopeVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrUnsupportedVersion, e.Version)
	}
	copy(e.Repo[:], b[6:22])
	copy(e.ID[:], b[22:38])
	e.Nonce = b[38:envelopeHeaderLen]
	sigAt := len(b) - ed25519.SignatureSize
	e.Ciphertext = b[envelopeHeaderLen:sigAt]
	e.Signature = b[sigAt:]
	e.signed = b[:sigAt]
	return e, nil
}

func sigMessage(signed []byte) []byte {
	m := make([]byte, 0, len(envelopeSigContext)+len(signed))
	return append(append(m, envelopeSigContext...), signed...)
}

// sealEnvelope encrypts and signs body.
func (k *repoKeys) sealEnvelope(typ byte, id [16]byte, body []byte) ([]byte, error) {
	out := make([]byte, 0, envelopeHeaderLen+len(body)+tagSize+ed25519.SignatureSize)
	out = append(out, envelopeMagic...)
	out = append(out, envelopeVersion, typ)
	out = append(out, k.repoID[:]...)
	out = append(out, id[:]...)
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	out = append(out, nonce[:]...)
	header := bytes.Clone(out)
	out = k.envelope.Seal(out, nonce[:], body, header)
	sig := ed25519.Sign(k.sign, sigMessage(out))
	return append(out, sig...), nil
}

// openEnvelope authenticates b as an envelope of type typ for object id and
// returns its body.
func (k *repoKeys) openEnvelope(b []byte, typ byte, id [16]byte) ([]byte, error) {
	e, err := ParseEnvelope(b)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(k.verify, sigMessage(e.signed), e.Signature) {
		return nil, corruptf("signature does not verify")
	}
	if e.Type != typ {
		return nil, corruptf("object has the wrong type")
	}
	if e.Repo != k.repoID {
		return nil, corruptf("object belongs to another repository")
	}
	if e.ID != id {
		return nil, corruptf("object is stored under another name")
	}
	body, err := k.envelope.Open(nil, e.Nonce, e.Ciphertext, e.signed[:envelopeHeaderLen])
	if err != nil {
		return nil, corruptf("object fails authentication")
	}
	return body, nil
}
