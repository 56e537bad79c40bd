package filestore

import (
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hipaakit/hipaakit/phi"
)

// On-disk record format, version 1 (all integers big-endian):
//
//	magic      4 bytes  "HKKS"
//	version    1 byte   1
//	kind       1 byte   1 = keyset, 2 = tombstone
//	ref        u16 length + bytes
//	kind 1 (keyset):
//	  version  i64      WrappedKeyset.Version (>= 1)
//	  created  i64      Unix nanoseconds
//	  updated  i64      Unix nanoseconds
//	  kekID    u16 length + bytes
//	  cipher   u32 length + bytes (at most maxCiphertext)
//	  keyIDs   u32 count + count × u32
//	kind 2 (tombstone):
//	  shredded i64      Unix nanoseconds
//	crc        u32      CRC-32C (Castagnoli) of every preceding byte
//
// A record is exactly this long: trailing bytes are corruption.

const (
	recordMagic   = "HKKS"
	formatVersion = 1

	kindKeyset    = 1
	kindTombstone = 2

	// maxCiphertext bounds a wrapped keyset (a Tink keyset with a few
	// hundred keys wrapped by AWS KMS is well under 64 KiB).
	maxCiphertext = 1 << 20
	// maxKeyIDs bounds the key IDs of one keyset.
	maxKeyIDs = 1 << 16
	// maxKEKID bounds a KEK ID (an AWS KMS key ARN is about 100 bytes).
	maxKEKID = 2048
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors about stored data. They are distinct from the phi errors, so that a
// damaged file is never mistaken for a missing or shredded key.
var (
	// ErrCorrupt reports a record that fails its checksum or does not parse.
	ErrCorrupt = errors.New("phi/filestore: corrupt record")
	// ErrUnsupportedVersion reports a record written by a newer format
	// version than this code reads.
	ErrUnsupportedVersion = errors.New("phi/filestore: unsupported record format version")
)

// errInvalidRef reports a reference that fails phi.ValidRef.
var errInvalidRef = errors.New("phi/filestore: invalid key reference")

// errTooLarge reports a keyset beyond the format's bounds.
var errTooLarge = errors.New("phi/filestore: keyset too large to store")

// record is one file's content: a keyset, or a tombstone when tombstone is set.
type record struct {
	tombstone bool
	shredded  time.Time // tombstones only
	keyset    phi.WrappedKeyset
}

// nameEncoding turns a reference into a file name that is safe on every file
// system: lowercase base32 with the extended-hex alphabet, no padding, so
// names never clash on case-insensitive file systems and a 128-byte
// reference (phi.MaxRefLen) gives a 206-byte name.
var nameEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// namePrefix begins the file name of every record.
const namePrefix = "k"

// fileName returns the record file name for ref.
func fileName(ref string) string { return namePrefix + nameEncoding.EncodeToString([]byte(ref)) }

// refFromName returns the reference whose record file is name, and false for
// names that are not canonical record names.
func refFromName(name string) (string, bool) {
	if len(name) <= len(namePrefix) || name[:len(namePrefix)] != namePrefix {
		return "", false
	}
	b, err := nameEncoding.DecodeString(name[len(namePrefix):])
	if err != nil || nameEncoding.EncodeToString(b) != name[len(namePrefix):] {
		return "", false
	}
	return string(b), true
}

// checkKeyset reports whether k fits the format.
func checkKeyset(k phi.WrappedKeyset) error {
	if !phi.ValidRef(k.Ref) {
		return errInvalidRef
	}
	if len(k.KEKID) > maxKEKID || len(k.Ciphertext) > maxCiphertext || len(k.KeyIDs) > maxKeyIDs {
		return errTooLarge
	}
	return nil
}

// encode returns r in format version 1. The caller has checked r with
// checkKeyset.
func (r *record) encode() []byte {
	k := &r.keyset
	n := 4 + 1 + 1 + 2 + len(k.Ref) + 4
	if r.tombstone {
		n += 8
	} else {
		n += 8*3 + 2 + len(k.KEKID) + 4 + len(k.Ciphertext) + 4 + 4*len(k.KeyIDs)
	}
	b := make([]byte, 0, n)
	b = append(b, recordMagic...)
	b = append(b, formatVersion)
	if r.tombstone {
		b = append(b, kindTombstone)
	} else {
		b = append(b, kindKeyset)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.Ref)))
	b = append(b, k.Ref...)
	if r.tombstone {
		b = binary.BigEndian.AppendUint64(b, uint64(r.shredded.UnixNano()))
	} else {
		b = binary.BigEndian.AppendUint64(b, uint64(k.Version))
		b = binary.BigEndian.AppendUint64(b, uint64(k.Created.UnixNano()))
		b = binary.BigEndian.AppendUint64(b, uint64(k.Updated.UnixNano()))
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.KEKID)))
		b = append(b, k.KEKID...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(k.Ciphertext)))
		b = append(b, k.Ciphertext...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(k.KeyIDs)))
		for _, id := range k.KeyIDs {
			b = binary.BigEndian.AppendUint32(b, id)
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// reader consumes a record's bytes; the first short read sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) next(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u16() int {
	b := r.next(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *reader) u32() uint32 {
	b := r.next(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}
func (r *reader) i64() int64 {
	b := r.next(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// corrupt returns an ErrCorrupt error with a reason that never quotes the
// record's bytes.
func corrupt(reason string) error { return fmt.Errorf("%w: %s", ErrCorrupt, reason) }

// decode parses a record. It never panics and never returns a record that
// fails the format's rules.
func decode(b []byte) (*record, error) {
	if len(b) < 4+1+1+4 || string(b[:4]) != recordMagic {
		return nil, corrupt("bad header")
	}
	if b[4] != formatVersion {
		return nil, fmt.Errorf("%w: %d (this code reads %d)", ErrUnsupportedVersion, b[4], formatVersion)
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, corrupt("checksum mismatch")
	}
	kind := b[5]
	r := &reader{b: body[6:]}
	rec := &record{}
	k := &rec.keyset
	k.Ref = string(r.next(r.u16()))
	switch kind {
	case kindTombstone:
		rec.tombstone = true
		rec.shredded = time.Unix(0, r.i64()).UTC()
	case kindKeyset:
		k.Version = r.i64()
		k.Created = time.Unix(0, r.i64()).UTC()
		k.Updated = time.Unix(0, r.i64()).UTC()
		k.KEKID = string(r.next(r.u16()))
		if len(k.KEKID) > maxKEKID {
			return nil, corrupt("KEK ID too long")
		}
		n := r.u32()
		if n > maxCiphertext {
			return nil, corrupt("ciphertext length out of range")
		}
		k.Ciphertext = append([]byte(nil), r.next(int(n))...)
		count := r.u32()
		if count > maxKeyIDs || int(count)*4 > len(r.b) {
			return nil, corrupt("key ID count out of range")
		}
		k.KeyIDs = make([]uint32, count)
		for i := range k.KeyIDs {
			k.KeyIDs[i] = r.u32()
		}
	default:
		return nil, corrupt("unknown record kind")
	}
	switch {
	case r.bad:
		return nil, corrupt("truncated")
	case len(r.b) != 0:
		return nil, corrupt("trailing bytes")
	case !phi.ValidRef(k.Ref):
		return nil, corrupt("invalid key reference")
	case !rec.tombstone && k.Version < 1:
		return nil, corrupt("keyset version out of range")
	}
	return rec, nil
}
