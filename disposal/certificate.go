package disposal

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/signing"
)

// Certificate format identifiers (see FORMAT.md).
const (
	CertificateFormat  = "hipaakit-disposal-certificate"
	CertificateVersion = 1
	// MethodCryptoErase is the disposal method of a crypto-shred (NIST SP
	// 800-88 "cryptographic erase").
	MethodCryptoErase = "cryptographic erase"
	// certContext prefixes the signed bytes, so that a signature over a
	// certificate can never be mistaken for a signature over anything else.
	certContext = "hipaakit-disposal-certificate/v1\n"
	// statementContext prefixes the bytes hashed into Statement.Hash.
	statementContext = "hipaakit-disposal-statement/v1\n"
	// MaxCertificateSize bounds what ParseCertificate reads.
	MaxCertificateSize = 64 << 10
	// MaxReasonLen is the longest disposal reason, in bytes.
	MaxReasonLen = 1024
	// maxKeyIDs bounds the key IDs a certificate may list: 24 ledger
	// attributes of keyIDsPerAttr each.
	maxKeyIDs = 24 * keyIDsPerAttr
)

// Statement is what a disposal asserts: which subject's keys were destroyed,
// when, by whom, why and how. It is recorded in the ledger and signed inside
// the certificate. No field holds PHI: Subject is an opaque subject ID and
// Reason is operator text that must not contain PHI.
type Statement struct {
	// ID identifies the disposal ("dc-" and 32 hex digits).
	ID      string    `json:"id"`
	Subject string    `json:"subject"`
	Time    time.Time `json:"time"`
	// Actor is the user ID of who ordered the disposal.
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	Method string `json:"method"`
	// KeyIDs lists the IDs of the subject's keys that were destroyed, sorted.
	// It is empty when the subject's keys had already been destroyed.
	KeyIDs []uint32 `json:"key_ids"`
}

// Hash returns the SHA-256 of the statement's canonical encoding; the ledger
// entry records it, so a certificate can be matched to its ledger entry.
func (s Statement) Hash() [32]byte {
	b, _ := json.Marshal(s) // cannot fail: strings, ints, time
	return sha256.Sum256(append([]byte(statementContext), b...))
}

func (s Statement) validate() error {
	switch {
	case len(s.ID) != 35 || s.ID[:3] != "dc-" || !isLowerHex(s.ID[3:]):
		return certErr("malformed id")
	case !phi.ValidSubject(s.Subject):
		return certErr("malformed subject")
	case s.Time.IsZero() || s.Time.Location() != time.UTC:
		return certErr("time must be UTC")
	case !validText(s.Actor) || !validText(s.Reason):
		return certErr("malformed actor or reason")
	case s.Method != MethodCryptoErase:
		return certErr("unknown method")
	case s.KeyIDs == nil || len(s.KeyIDs) > maxKeyIDs || !slices.IsSorted(s.KeyIDs) || len(slices.Compact(slices.Clone(s.KeyIDs))) != len(s.KeyIDs):
		return certErr("key ids must be sorted and unique")
	}
	return nil
}

// LedgerPosition is where the disposal is recorded in the ledger.
type LedgerPosition struct {
	// Seq is the entry's sequence number (1 for the first entry).
	Seq uint64 `json:"seq"`
	// Stream names the ledger (its audit stream or table), for operators.
	Stream string `json:"stream,omitempty"`
}

// Certificate is a signed statement that a disposal happened, verifiable
// offline with the signer's ed25519 public key (VerifyCertificate).
type Certificate struct {
	Statement
	Ledger LedgerPosition `json:"ledger"`
	// StatementHash is Statement.Hash in hex, as the ledger records it.
	StatementHash string `json:"statement_sha256"`
}

// Signature is a certificate's signature block.
type Signature struct {
	Alg string `json:"alg"`
	// KeyID is the first 8 bytes of SHA-256 of the public key, in hex.
	KeyID string `json:"key_id"`
	Value string `json:"value"`
}

// certFile is the on-disk form of a certificate (FORMAT.md).
type certFile struct {
	Format      string      `json:"format"`
	Version     int         `json:"version"`
	Certificate Certificate `json:"certificate"`
	Signature   Signature   `json:"signature"`
}

func signedBytes(c Certificate) []byte {
	b, _ := json.Marshal(c) // cannot fail
	return append([]byte(certContext), b...)
}

// Sign returns the encoded, signed certificate for c. signer is an
// ed25519.PrivateKey or any crypto.Signer whose public key is ed25519 (for
// example a key held in an HSM or KMS). ed25519 signatures are
// deterministic, so signing the same certificate twice gives the same
// bytes.
func Sign(c Certificate, signer crypto.Signer) ([]byte, error) {
	pub, err := signerPublic(signer)
	if err != nil {
		return nil, err
	}
	if c.KeyIDs == nil {
		c.KeyIDs = []uint32{}
	}
	c.StatementHash = hexHash(c.Statement)
	if err := c.validate(); err != nil {
		return nil, err
	}
	msg := signedBytes(c)
	sig, err := signer.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("disposal: sign certificate: %w", err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("%w: the signer produced a signature its public key does not verify", ErrInvalidKey)
	}
	f := certFile{
		Format: CertificateFormat, Version: CertificateVersion, Certificate: c,
		Signature: Signature{Alg: "ed25519", KeyID: signing.KeyID(pub), Value: base64.StdEncoding.EncodeToString(sig)},
	}
	return encodeCertFile(f), nil
}

// signerPublic returns signer's ed25519 public key, or ErrInvalidKey.
func signerPublic(signer crypto.Signer) (ed25519.PublicKey, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: no signing key", ErrInvalidKey)
	}
	if k, ok := signer.(ed25519.PrivateKey); ok && len(k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: ed25519 private key must be %d bytes", ErrInvalidKey, ed25519.PrivateKeySize)
	}
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the signing key must be ed25519", ErrInvalidKey)
	}
	return pub, nil
}

func hexHash(s Statement) string {
	h := s.Hash()
	return hex.EncodeToString(h[:])
}

func (c Certificate) validate() error {
	if err := c.Statement.validate(); err != nil {
		return err
	}
	if c.Ledger.Seq == 0 || len(c.Ledger.Stream) > 256 || (c.Ledger.Stream != "" && !validText(c.Ledger.Stream)) {
		return certErr("malformed ledger position")
	}
	if c.StatementHash != hexHash(c.Statement) {
		return certErr("statement hash does not match")
	}
	return nil
}

func encodeCertFile(f certFile) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(f) // cannot fail; Encode appends the final newline
	return buf.Bytes()
}

// ParseCertificate decodes a certificate without verifying its signature. It
// accepts only the canonical encoding that Sign produces, so that one
// certificate has exactly one byte form. Use VerifyCertificate to trust one.
func ParseCertificate(data []byte) (Certificate, Signature, error) {
	if len(data) > MaxCertificateSize {
		return Certificate{}, Signature{}, certErr("too large")
	}
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Certificate{}, Signature{}, certErr("not a certificate")
	}
	if probe.Format != CertificateFormat {
		return Certificate{}, Signature{}, certErr("not a certificate")
	}
	if probe.Version != CertificateVersion {
		return Certificate{}, Signature{}, &CertificateError{Reason: "unsupported version", err: ErrUnsupportedVersion}
	}
	var f certFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Certificate{}, Signature{}, certErr("malformed")
	}
	if !bytes.Equal(encodeCertFile(f), data) {
		return Certificate{}, Signature{}, certErr("not in canonical form")
	}
	if err := f.Certificate.validate(); err != nil {
		return Certificate{}, Signature{}, err
	}
	return f.Certificate, f.Signature, nil
}

// VerifyCertificate parses data and verifies its ed25519 signature with the
// key of trusted that its signature names (the current signing key, or an
// earlier one after a rotation). It returns the certificate only when every
// check passes; otherwise an error matching ErrInvalidCertificate (or
// ErrUnsupportedVersion), and ErrInvalidKey when trusted is empty.
func VerifyCertificate(data []byte, trusted signing.KeySet) (Certificate, error) {
	if trusted.Len() == 0 {
		return Certificate{}, fmt.Errorf("%w: no trusted public key", ErrInvalidKey)
	}
	c, sig, err := ParseCertificate(data)
	if err != nil {
		return Certificate{}, err
	}
	if sig.Alg != "ed25519" {
		return Certificate{}, certErr("unknown signature algorithm")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(sig.Value)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return Certificate{}, certErr("malformed signature")
	}
	switch err := trusted.Verify(sig.KeyID, signedBytes(c), raw); {
	case errors.Is(err, signing.ErrUnknownKey):
		return Certificate{}, certErr("signed by another key")
	case err != nil:
		return Certificate{}, certErr("bad signature")
	}
	return c, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// ValidReason reports whether s is acceptable as a reason or an actor: 1 to
// MaxReasonLen bytes of valid UTF-8 without control characters. retention
// applies the same rule to legal-hold reasons and authors.
func ValidReason(s string) bool { return validText(s) }

// validText implements ValidReason.
func validText(s string) bool {
	if s == "" || len(s) > MaxReasonLen {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}
