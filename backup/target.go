package backup

import (
	"context"
	"io"
	"strings"
	"time"
)

// Target stores a repository's objects: a directory (DirTarget, the embedded
// default), an S3 bucket (backup/s3target), or anything that keeps named
// byte strings. backup/backuptest holds the conformance suite every
// implementation must pass.
//
// Contract:
//   - Names are relative slash-separated paths of lower-case letters, digits
//     and '-', '_', '.', at most 255 bytes, without empty, "." or ".."
//     segments (see ValidName). Every method returns an error wrapping
//     ErrInvalidName for any other name and touches nothing.
//   - Put stores data under name, replacing any object of that name. It is
//     atomic (a reader sees the old object, or all of data, never a part) and
//     durable: it returns nil only once the object survives a crash of the
//     process and of the machine, as far as the storage allows. On any error
//     the object is either absent, the old object, or the complete new one.
//   - Open returns the object's content; the error wraps ErrNotFound when no
//     object has that name. Close releases it.
//   - Stat returns the object's size and modification time, ErrNotFound when
//     it is missing.
//   - List calls fn for every object whose name begins with prefix, in
//     lexical order of names; it stops with fn's error when fn fails. Objects
//     written by a Put that returned before List started are always listed.
//   - Delete removes the object durably; deleting a missing object is not an
//     error.
//   - Every method honours ctx and is safe for concurrent use, also by
//     several processes sharing the storage. Errors never contain object
//     content.
type Target interface {
	Put(ctx context.Context, name string, data []byte) error
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	Stat(ctx context.Context, name string) (ObjectInfo, error)
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	Delete(ctx context.Context, name string) error
}

// Creator is implemented by targets that can create an object only if no
// object of that name exists, atomically (a conditional write). Init uses it
// so that two processes initialising one target at once cannot both
// succeed. Create returns an error wrapping ErrExists when the name is taken.
type Creator interface {
	Create(ctx context.Context, name string, data []byte) error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// MaxNameLen is the longest object name a Target must accept.
const MaxNameLen = 255

// ValidName reports whether name is an object name every Target accepts (see
// Target). The names this package writes always are.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			default:
				return false
			}
		}
	}
	return true
}

// ValidPrefix reports whether prefix is acceptable to Target.List: empty, or
// a valid name, optionally ending in '/'.
func ValidPrefix(prefix string) bool {
	return prefix == "" || ValidName(strings.TrimSuffix(prefix, "/"))
}

// BatchPutter is implemented by targets that can defer part of the
// durability of many Puts to one Flush (DirTarget: the fsync of each
// object's directory). PutBatched stores data atomically like Put, but the
// object is durable only once a later Flush returns nil. A backup flushes
// after its last chunk and before it writes the manifest, so a manifest
// still never names a chunk that a crash could lose.
type BatchPutter interface {
	PutBatched(ctx context.Context, name string, data []byte) error
	Flush(ctx context.Context) error
}
