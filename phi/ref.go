package phi

import "strings"

// Key references.
//
// Every keyset in a KeyStore is stored under a reference (WrappedKeyset.Ref).
// A subject's data keyset is stored under the subject ID itself; keysets that
// belong to the system (such as the blind-index key) are stored under
// references that begin with ReservedRefPrefix, which no subject ID may use,
// so a subject can never collide with, overwrite or shred a system keyset.

// ReservedRefPrefix begins every system key reference. Subject IDs must not
// begin with it (see ValidSubject).
const ReservedRefPrefix = "_"

// MaxRefLen is the longest key reference, in bytes.
const MaxRefLen = 128

// blindIndexRef is the reference of the keyset that keys every blind index.
const blindIndexRef = ReservedRefPrefix + "hipaakit.blind-index"

// ValidRef reports whether ref is a well-formed key reference: 1 to MaxRefLen
// bytes of ASCII letters, digits and the characters '-', '_', '.', ':', '@'
// and '+', not beginning with '.', '-' or '+'. Key stores may rely on this
// (for example to use references as file names); the Vault never hands a
// KeyStore a reference that fails ValidRef.
func ValidRef(ref string) bool {
	if len(ref) == 0 || len(ref) > MaxRefLen {
		return false
	}
	switch ref[0] {
	case '.', '-', '+':
		return false
	}
	for i := 0; i < len(ref); i++ {
		if !refByte(ref[i]) {
			return false
		}
	}
	return true
}

// refChars is a bit set of the bytes allowed in a reference: bit c of
// refChars[c/64] is set for each allowed byte c.
var refChars = [2]uint64{
	// '+', '-', '.', '0'-'9', ':'
	1<<'+' | 1<<'-' | 1<<'.' | (1<<10-1)<<'0' | 1<<':',
	// '@', 'A'-'Z', '_', 'a'-'z'
	1<<('@'-64) | (1<<26-1)<<('A'-64) | 1<<('_'-64) | (1<<26-1)<<('a'-64),
}

func refByte(c byte) bool { return c < 128 && refChars[c/64]&(1<<(c%64)) != 0 }

// ValidSubject reports whether subject can be used as a subject ID: it is a
// valid reference (see ValidRef) that does not begin with ReservedRefPrefix.
// Subject IDs are opaque identifiers (for example UUIDs); they are stored in
// clear beside the sealed data and in audit events, so they must not be PHI
// such as a name or a medical record number.
func ValidSubject(subject string) bool {
	return ValidRef(subject) && !strings.HasPrefix(subject, ReservedRefPrefix)
}
