package backup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Object name prefixes.
const (
	chunkPrefix    = "chunks/"
	manifestPrefix = "manifests/"
	verifiedPrefix = "verified/"
	lockPrefix     = "locks/"
)

// Chunk object layouts (see FORMAT.md). Version 1:
//
//	magic "HKBC" | 1 | nonce (12) | AES-256-GCM(plaintext)
//
// with associated data chunkADv1 || repository ID || raw chunk name.
// Version 2 (written since format version 2):
//
//	magic "HKBC" | 2 | encoding (1) | nonce (12) | AES-256-GCM(payload)
//
// with associated data chunkADv2 || repository ID || raw chunk name ||
// encoding || plaintext size (8 bytes, big-endian); the payload is the
// plaintext (encRaw) or its zstd frame (encZstd).
const (
	chunkMagic       = "HKBC"
	chunkVersion1    = 1
	chunkVersion2    = 2
	nonceSize        = 12
	tagSize          = 16
	chunkHeaderLenV1 = len(chunkMagic) + 1 + nonceSize
	chunkHeaderLen   = len(chunkMagic) + 2 + nonceSize
	chunkOverheadV1  = chunkHeaderLenV1 + tagSize
	// ChunkOverhead is the number of bytes a stored chunk adds to its
	// payload; no stored chunk is larger than its plaintext plus
	// ChunkOverhead.
	ChunkOverhead = chunkHeaderLen + tagSize
	chunkADv1     = "hipaakit-backup/chunk/v1\x00"
	chunkADv2     = "hipaakit-backup/chunk/v2\x00"

	encRaw  byte = 0
	encZstd byte = 1
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

func (k *repoKeys) chunkADv1(dst []byte, name [32]byte) []byte {
	dst = append(dst[:0], chunkADv1...)
	dst = append(dst, k.repoID[:]...)
	return append(dst, name[:]...)
}

func (k *repoKeys) chunkADv2(dst []byte, name [32]byte, enc byte, size int) []byte {
	dst = append(dst[:0], chunkADv2...)
	dst = append(dst, k.repoID[:]...)
	dst = append(dst, name[:]...)
	dst = append(dst, enc)
	return binary.BigEndian.AppendUint64(dst, uint64(size))
}

// sealScratch holds the reusable buffers of one sealing worker.
type sealScratch struct {
	ad, z []byte
}

// sealChunk appends the stored form (version 2) of plaintext, named name,
// to dst: compressed with zstd when that saves at least 1/32 of its size,
// raw otherwise.
func (k *repoKeys) sealChunk(dst, plaintext []byte, name [32]byte, s *sealScratch) ([]byte, error) {
	enc, payload := encRaw, plaintext
	z, err := compress(s.z[:0], plaintext)
	if err != nil {
		return nil, err
	}
	s.z = z[:0]
	if len(z) < len(plaintext)-len(plaintext)/32 {
		enc, payload = encZstd, z
	}
	dst = append(dst[:0], chunkMagic...)
	dst = append(dst, chunkVersion2, enc)
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	dst = append(dst, nonce[:]...)
	s.ad = k.chunkADv2(s.ad, name, enc, len(plaintext))
	return k.chunk.Seal(dst, nonce[:], payload, s.ad), nil
}

// ParsedChunk is a stored chunk split into its fields, not yet
// authenticated.
type ParsedChunk struct {
	Version    byte
	Encoding   byte // version 2: 0 raw, 1 zstd
	Nonce      []byte
	Ciphertext []byte // payload and tag
}

// ParseChunk checks the structure of a stored chunk (either version) and
// splits it, without authenticating it (that needs the repository key). It
// never panics, whatever b holds.
func ParseChunk(b []byte) (*ParsedChunk, error) {
	if len(b) < len(chunkMagic)+1 || string(b[:len(chunkMagic)]) != chunkMagic {
		return nil, corruptf("not a chunk")
	}
	p := &ParsedChunk{Version: b[len(chunkMagic)]}
	switch p.Version {
	case chunkVersion1:
		if len(b) < chunkOverheadV1 {
			return nil, corruptf("chunk too short")
		}
		p.Nonce, p.Ciphertext = b[len(chunkMagic)+1:chunkHeaderLenV1], b[chunkHeaderLenV1:]
	case chunkVersion2:
		if len(b) < ChunkOverhead {
			return nil, corruptf("chunk too short")
		}
		p.Encoding = b[len(chunkMagic)+1]
		if p.Encoding != encRaw && p.Encoding != encZstd {
			return nil, corruptf("chunk has an unknown encoding")
		}
		p.Nonce, p.Ciphertext = b[len(chunkMagic)+2:chunkHeaderLen], b[chunkHeaderLen:]
	default:
		return nil, fmt.Errorf("%w: chunk version %d", ErrUnsupportedVersion, p.Version)
	}
	return p, nil
}

// openChunk authenticates and decodes a stored chunk (either version) into
// dst and checks that its keyed hash is name and its length is size. A
// compressed chunk is decrypted in place, overwriting stored.
func (k *repoKeys) openChunk(dst, stored []byte, name [32]byte, size int, ad []byte) ([]byte, error) {
	p, err := ParseChunk(stored)
	if err != nil {
		return nil, err
	}
	if size <= 0 || size > MaxChunkSize {
		return nil, corruptf("chunk has the wrong size")
	}
	payloadLen := len(p.Ciphertext) - tagSize
	var pt []byte
	switch {
	case p.Version == chunkVersion1:
		if payloadLen != size {
			return nil, corruptf("chunk has the wrong size")
		}
		if pt, err = k.chunk.Open(dst[:0], p.Nonce, p.Ciphertext, k.chunkADv1(ad, name)); err != nil {
			return nil, corruptf("chunk fails authentication")
		}
	case p.Encoding == encRaw:
		if payloadLen != size {
			return nil, corruptf("chunk has the wrong size")
		}
		if pt, err = k.chunk.Open(dst[:0], p.Nonce, p.Ciphertext, k.chunkADv2(ad, name, encRaw, size)); err != nil {
			return nil, corruptf("chunk fails authentication")
		}
	default:
		if payloadLen >= size {
			return nil, corruptf("compressed chunk is not smaller than its size")
		}
		z, err := k.chunk.Open(p.Ciphertext[:0], p.Nonce, p.Ciphertext, k.chunkADv2(ad, name, encZstd, size))
		if err != nil {
			return nil, corruptf("chunk fails authentication")
		}
		if pt, err = decompress(dst, z, size); err != nil {
			return nil, err
		}
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
