package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/signing"
)

// ErrSignature reports evidence whose signature does not verify; the
// error is a *SignatureError.
var ErrSignature = errors.New("evidence: signature does not verify")

// SignatureError says why a file's signature was refused.
type SignatureError struct {
	File   string // the file's base name
	Reason string // for example "the file was changed after signing"
}

func (e *SignatureError) Error() string { return "evidence: " + e.File + ": " + e.Reason }

// Is makes errors.Is(err, ErrSignature) true.
func (e *SignatureError) Is(target error) bool { return target == ErrSignature }

// SigSuffix is appended to a file's name for its signature file.
const SigSuffix = ".sig"

const header = "hipaakit-evidence v1"

// maxSig bounds a signature file.
const maxSig = 4 << 10

// Signature is a parsed signature file.
type Signature struct {
	File   string
	SHA256 [sha256.Size]byte
	KeyID  string
	Sig    []byte
}

// signed is the text the signature covers.
func (s *Signature) signed() []byte {
	return fmt.Appendf(nil, "%s\nfile %s\nsha256 %s\nkey %s\n", header, s.File, hex.EncodeToString(s.SHA256[:]), s.KeyID)
}

// Marshal encodes s as a signature file.
func (s *Signature) Marshal() []byte {
	return append(s.signed(), "sig "+base64.StdEncoding.EncodeToString(s.Sig)+"\n"...)
}

// Sign returns the signature file of content named name (its base name is
// used) under key.
func Sign(name string, content []byte, key *signing.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("evidence: a signing key is required")
	}
	base := filepath.Base(name)
	if !validName(base) {
		return nil, fmt.Errorf("evidence: %q is not a plain file name", base)
	}
	s := &Signature{File: base, SHA256: sha256.Sum256(content), KeyID: key.KeyID()}
	sig, err := key.Sign(nil, s.signed(), nil)
	if err != nil {
		return nil, fmt.Errorf("evidence: sign %s: %w", base, err)
	}
	s.Sig = sig
	return s.Marshal(), nil
}

// ParseSignature parses a signature file; it checks the form, not the
// signature (Verify does).
func ParseSignature(b []byte) (*Signature, error) {
	bad := func(reason string) error { return &SignatureError{File: "signature", Reason: reason} }
	if len(b) > maxSig {
		return nil, bad("the signature file is too large")
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) != 6 || lines[5] != "" {
		return nil, bad("not a version 1 signature file (five lines)")
	}
	if lines[0] != header {
		return nil, bad("not a version 1 signature file (header)")
	}
	field := func(i int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], name+" ")
		if !ok || v == "" {
			return "", bad("line " + fmt.Sprint(i+1) + " must be " + name)
		}
		return v, nil
	}
	s := &Signature{}
	var err error
	if s.File, err = field(1, "file"); err != nil {
		return nil, err
	}
	if !validName(s.File) {
		return nil, bad("the file name is not a plain file name")
	}
	digest, err := field(2, "sha256")
	if err != nil {
		return nil, err
	}
	if d, err := hex.DecodeString(digest); err != nil || len(d) != sha256.Size || hex.EncodeToString(d) != digest {
		return nil, bad("sha256 is not 64 lower-case hex digits")
	} else {
		copy(s.SHA256[:], d)
	}
	if s.KeyID, err = field(3, "key"); err != nil {
		return nil, err
	}
	if d, err := hex.DecodeString(s.KeyID); err != nil || len(d) != 8 || hex.EncodeToString(d) != s.KeyID {
		return nil, bad("key is not a signing key ID (16 lower-case hex digits)")
	}
	sig, err := field(4, "sig")
	if err != nil {
		return nil, err
	}
	if s.Sig, err = base64.StdEncoding.Strict().DecodeString(sig); err != nil || len(s.Sig) != ed25519.SignatureSize {
		return nil, bad("sig is not a base64 ed25519 signature")
	}
	if !bytes.Equal(s.Marshal(), b) {
		return nil, bad("not in canonical form")
	}
	return s, nil
}

// Verify checks that sig is a signature of content, named name, by one of
// keys. It returns the parsed signature.
func Verify(name string, content, sig []byte, keys signing.KeySet) (*Signature, error) {
	base := filepath.Base(name)
	s, err := ParseSignature(sig)
	if err != nil {
		var se *SignatureError
		if errors.As(err, &se) {
			se.File = base
		}
		return nil, err
	}
	if s.File != base {
		return nil, &SignatureError{File: base, Reason: "the signature is for " + s.File + ", not this file"}
	}
	sum := sha256.Sum256(content)
	if subtle.ConstantTimeCompare(sum[:], s.SHA256[:]) != 1 {
		return nil, &SignatureError{File: base, Reason: "the file was changed after signing (its SHA-256 differs)"}
	}
	if err := keys.Verify(s.KeyID, s.signed(), s.Sig); err != nil {
		if errors.Is(err, signing.ErrUnknownKey) {
			return nil, &SignatureError{File: base, Reason: "signed by key " + s.KeyID + ", which is not among the trusted keys"}
		}
		return nil, &SignatureError{File: base, Reason: "the signature does not verify under key " + s.KeyID}
	}
	return s, nil
}

// WriteDir writes each file into dir (created 0755 if needed) and its
// signature beside it as name+SigSuffix, each replaced atomically.
func WriteDir(dir string, key *signing.PrivateKey, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("evidence: create the evidence directory: %w", durable.WithoutPath(err))
	}
	for name, content := range files {
		if !validName(name) {
			return fmt.Errorf("evidence: %q is not a plain file name", name)
		}
		sig, err := Sign(name, content, key)
		if err != nil {
			return err
		}
		if err := durable.WriteFileAtomic(filepath.Join(dir, name), content, 0o644); err != nil {
			return fmt.Errorf("evidence: write %s: %w", name, durable.WithoutPath(err))
		}
		if err := durable.WriteFileAtomic(filepath.Join(dir, name+SigSuffix), sig, 0o644); err != nil {
			return fmt.Errorf("evidence: write %s: %w", name+SigSuffix, durable.WithoutPath(err))
		}
	}
	return nil
}

// validName accepts a plain file name: no separator, no control
// character, not "." or "..".
func validName(n string) bool {
	if n == "" || n == "." || n == ".." || len(n) > 255 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < ' ' || c == 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}
