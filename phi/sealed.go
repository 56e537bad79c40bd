package phi

import (
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"slices"
)

// Sealed value format (see FORMAT.md). Version 1 is:
//
//	version (1 byte, 0x01) || key ID (4 bytes, big-endian) || nonce (12 bytes) || ciphertext || tag (16 bytes)
//
// which is exactly the wire format of a Tink AES-GCM key with the TINK
// output prefix.
const (
	sealedV1      = 0x01
	headerLen     = 5
	nonceLen      = 12
	tagLen        = 16
	minSealedV1   = headerLen + nonceLen + tagLen
	sealedVersion = 1
)

// Sealed is an encrypted PHI value as produced by Vault.Seal: self-describing
// (it carries its format version and the ID of the key that sealed it) and
// safe to store anywhere, for example in a PostgreSQL bytea column (Sealed
// implements driver.Valuer and sql.Scanner). It does not name its subject or
// field: those are given again to Vault.Open, and the ciphertext is
// authenticated against them.
//
// Printed with fmt, a Sealed shows only its version and length, for example
// "phi.Sealed(v1, 57 bytes)".
type Sealed []byte

// Header is the clear part of a sealed value.
type Header struct {
	// Version is the format version (1).
	Version int
	// KeyID is the ID of the key, inside the subject's keyset, that sealed
	// the value.
	KeyID uint32
}

// ParseHeader parses the clear header of a sealed value without opening it.
// It returns ErrMalformed for bytes too short to be a sealed value and
// ErrUnsupportedVersion for an unknown version.
func ParseHeader(s []byte) (Header, error) {
	if len(s) == 0 {
		return Header{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if s[0] != sealedV1 {
		return Header{}, ErrUnsupportedVersion
	}
	if len(s) < minSealedV1 {
		return Header{}, fmt.Errorf("%w: too short", ErrMalformed)
	}
	return Header{Version: sealedVersion, KeyID: binary.BigEndian.Uint32(s[1:headerLen])}, nil
}

// Header returns the parsed clear header of s (see ParseHeader).
func (s Sealed) Header() (Header, error) { return ParseHeader(s) }

// String describes s without its bytes, for example "phi.Sealed(v1, 57 bytes)".
func (s Sealed) String() string {
	if s == nil {
		return "phi.Sealed(nil)"
	}
	h, err := ParseHeader(s)
	if err != nil {
		return fmt.Sprintf("phi.Sealed(invalid, %d bytes)", len(s))
	}
	return fmt.Sprintf("phi.Sealed(v%d, %d bytes)", h.Version, len(s))
}

// GoString is String, so that %#v does not dump the bytes.
func (s Sealed) GoString() string { return s.String() }

// Format prints String under every verb.
func (s Sealed) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// Value implements driver.Valuer: a Sealed is stored as bytes (bytea); a nil
// Sealed is stored as NULL.
func (s Sealed) Value() (driver.Value, error) {
	if s == nil {
		return nil, nil
	}
	return []byte(s), nil
}

// Scan implements sql.Scanner for bytes (bytea) and NULL. It copies src.
func (s *Sealed) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s = nil
	case []byte:
		*s = slices.Clone(v)
		if *s == nil {
			*s = Sealed{}
		}
	default:
		return fmt.Errorf("phi: cannot scan %T into phi.Sealed", src)
	}
	return nil
}
