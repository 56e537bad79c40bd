package phi

import (
	"encoding/binary"
	"fmt"
)

// Limits on the parts of a Binding, in bytes.
const (
	maxFieldLen = 128
	maxOptLen   = 1024
)

// Binding names where a sealed value belongs. All four parts are
// authenticated as associated data: a value sealed under one Binding opens
// only under exactly the same Binding, so a ciphertext copied to another
// patient, another field, another tenant or another record fails to open with
// ErrTampered.
//
// Subject is required and selects the data keyset: it must satisfy
// ValidSubject. It is an opaque identifier (for example a UUID), never PHI.
// Field is required: 1 to 128 bytes of printable ASCII, for example "dob" or
// "patient.email". Tenant and Record are optional (at most 1024 bytes each);
// when used, they must be given again, identically, to open the value.
// None of the parts is stored in the sealed value.
type Binding struct {
	Subject, Field, Tenant, Record string
}

func (b Binding) validate() error {
	if !ValidSubject(b.Subject) {
		return fmt.Errorf("%w: subject is not a valid subject ID", ErrInvalidBinding)
	}
	if len(b.Field) == 0 || len(b.Field) > maxFieldLen || !printableASCII(b.Field) {
		return fmt.Errorf("%w: field must be 1 to %d bytes of printable ASCII", ErrInvalidBinding, maxFieldLen)
	}
	if len(b.Tenant) > maxOptLen || len(b.Record) > maxOptLen {
		return fmt.Errorf("%w: tenant and record are limited to %d bytes", ErrInvalidBinding, maxOptLen)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// adLabelV1 starts the associated data of a version 1 sealed value.
const adLabelV1 = "hipaakit.phi.v1"

// appendAD appends the version 1 associated data for b to dst: the label,
// then subject, field, tenant and record, each as a big-endian uint16 length
// and its bytes (see FORMAT.md). b must have been validated.
func (b Binding) appendAD(dst []byte) []byte {
	dst = append(dst, adLabelV1...)
	for _, s := range [4]string{b.Subject, b.Field, b.Tenant, b.Record} {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// adLen is the length of the associated data appendAD produces.
func (b Binding) adLen() int {
	return len(adLabelV1) + 8 + len(b.Subject) + len(b.Field) + len(b.Tenant) + len(b.Record)
}
