package witness

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors.
var (
	// ErrMalformed reports a request, note or cosignature line that does
	// not parse.
	ErrMalformed = errors.New("witness: malformed input")
	// ErrInconsistent reports a checkpoint that does not extend the last
	// one the witness cosigned (a split view or a rewritten log).
	ErrInconsistent = errors.New("witness: checkpoint inconsistent with the last cosigned one")
	// ErrConflict reports an add-checkpoint whose old size is not the
	// witness's (see ConflictError).
	ErrConflict = errors.New("witness: old size does not match the witness state")
	// ErrTooFewCosignatures reports a checkpoint with fewer valid witness
	// cosignatures than required.
	ErrTooFewCosignatures = errors.New("witness: too few valid witness cosignatures")
)

// ConflictError carries the size the witness last cosigned, which the log
// must send its consistency proof from.
type ConflictError struct{ Size uint64 }

func (e *ConflictError) Error() string {
	return "witness: old size does not match the witness state (it is at size " + strconv.FormatUint(e.Size, 10) + ")"
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Key is a witness's public key under its name (a schema-less URL, the
// cosignature's key name).
type Key struct {
	Name   string
	Public ed25519.PublicKey
}

// cosigKeyHash is the C2SP tlog-cosignature key ID: the first 4 bytes of
// SHA-256(name || "\n" || 0x04 || public key).
func cosigKeyHash(name string, pub ed25519.PublicKey) [4]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', 0x04})
	h.Write(pub)
	var out [4]byte
	copy(out[:], h.Sum(nil))
	return out
}

func cosigMessage(body []byte, t uint64) []byte {
	m := append([]byte("cosignature/v1\ntime "), strconv.FormatUint(t, 10)...)
	m = append(m, '\n')
	return append(m, body...)
}

func validName(name string) bool {
	return name != "" && len(name) <= 256 && !strings.ContainsAny(name, " +\n\t\r") && strings.ToValidUTF8(name, "") == name
}

// cosign returns the signature line "— name base64(keyID||time||sig)\n".
func cosign(name string, signer crypto.Signer, body []byte, t uint64) ([]byte, error) {
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("witness: signer is not an ed25519 key")
	}
	sig, err := signer.Sign(rand.Reader, cosigMessage(body, t), crypto.Hash(0))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, errors.New("witness: cosigning failed")
	}
	kh := cosigKeyHash(name, pub)
	payload := append(kh[:], binary.BigEndian.AppendUint64(nil, t)...)
	payload = append(payload, sig...)
	return []byte("— " + name + " " + base64.StdEncoding.EncodeToString(payload) + "\n"), nil
}

// splitNote returns a note's body (through its last line before the blank
// line) and its signature lines.
func splitNote(note []byte) (body []byte, sigs []string, err error) {
	i := bytes.Index(note, []byte("\n\n"))
	if i < 0 || len(note) > 1<<20 || !bytes.HasSuffix(note, []byte("\n")) {
		return nil, nil, ErrMalformed
	}
	body = note[:i+1]
	for _, l := range strings.Split(strings.TrimSuffix(string(note[i+2:]), "\n"), "\n") {
		if !strings.HasPrefix(l, "— ") {
			return nil, nil, ErrMalformed
		}
		sigs = append(sigs, l)
	}
	return body, sigs, nil
}

// VerifyCosignatures checks that at least k of witnesses cosigned note (a
// signed checkpoint with witness signature lines appended). Each witness
// counts once; a line under a witness's name that does not verify is
// ignored, never counted.
func VerifyCosignatures(note []byte, witnesses []Key, k int) error {
	body, sigs, err := splitNote(note)
	if err != nil {
		return err
	}
	if k <= 0 {
		return fmt.Errorf("%w: k must be at least 1", ErrMalformed)
	}
	valid := 0
	for _, w := range witnesses {
		if len(w.Public) != ed25519.PublicKeySize || !validName(w.Name) {
			continue
		}
		kh := cosigKeyHash(w.Name, w.Public)
		for _, l := range sigs {
			name, b64, ok := strings.Cut(strings.TrimPrefix(l, "— "), " ")
			if !ok || name != w.Name {
				continue
			}
			p, err := base64.StdEncoding.Strict().DecodeString(b64)
			if err != nil || len(p) != 4+8+ed25519.SignatureSize || !bytes.Equal(p[:4], kh[:]) {
				continue
			}
			if ed25519.Verify(w.Public, cosigMessage(body, binary.BigEndian.Uint64(p[4:12])), p[12:]) {
				valid++
				break
			}
		}
	}
	if valid < k {
		return fmt.Errorf("%w: %d of %d required", ErrTooFewCosignatures, valid, k)
	}
	return nil
}
