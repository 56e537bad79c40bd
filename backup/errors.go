package backup

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns about a stored object is
// an *ObjectError that names the object and wraps one of these, so that
// callers can both tell the failure apart (errors.Is) and report which object
// failed (errors.As).
var (
	// ErrNotFound reports a missing object, backup or repository.
	ErrNotFound = errors.New("backup: not found")
	// ErrCorrupt reports an object that fails authentication, its keyed hash,
	// its size or its structure: a flipped bit, a truncated or swapped chunk,
	// trailing garbage, a manifest that was edited.
	ErrCorrupt = errors.New("backup: corrupt object")
	// ErrUnsupportedVersion reports an object written in a format version this
	// code does not read.
	ErrUnsupportedVersion = errors.New("backup: unsupported format version")
	// ErrWrongKey reports that the KEK given does not unwrap the repository
	// key (a different KEK, or a repository configuration that was altered).
	ErrWrongKey = errors.New("backup: wrong key")
	// ErrExists reports that a repository already exists where Init was asked
	// to create one, or that a restore destination holds data and the restore
	// was not forced.
	ErrExists = errors.New("backup: already exists")
	// ErrInvalidName reports an object name a Target refuses.
	ErrInvalidName = errors.New("backup: invalid object name")
	// ErrVerifyFailed reports that a verification found missing or corrupt
	// objects; the *VerifyError lists each of them.
	ErrVerifyFailed = errors.New("backup: verification failed")
	// ErrDrillFailed reports a restore drill whose restored data did not match
	// what the manifest recorded.
	ErrDrillFailed = errors.New("backup: restore drill failed")
	// ErrAudit reports that the audit event for an operation could not be
	// written; the operation is reported as failed (no audit, no access).
	ErrAudit = errors.New("backup: audit write failed")
	// ErrSourceKind reports a restore into a sink that does not accept the
	// kind of source the backup was taken from.
	ErrSourceKind = errors.New("backup: source kind not accepted by this sink")
	// ErrMarkerNotWritten reports that a verification or a drill passed but
	// its record ("verified/<id>", see Info.Verified) could not be written,
	// e.g. to a read-only target. The verdict stands (VerifyReport.Problems
	// is empty, DrillReport.Pass is true); the error is a *MarkerError.
	ErrMarkerNotWritten = errors.New("backup: verification record not written")
	// ErrBusy reports that a concurrent operation (a running backup or
	// garbage collection) prevented this one.
	ErrBusy = errors.New("backup: repository busy")
)

// ObjectError reports a failure concerning one stored object. Object is the
// object's name in the Target (for example "chunks/3f/3f2a…" or
// "manifests/9c1e…"); names are identifiers or keyed hashes, never file
// paths or content from the backed-up data.
type ObjectError struct {
	Op     string // what was being done: "read", "open", "verify", "write", "parse"
	Object string
	Err    error
}

// Error names the operation and the object; it never holds content.
func (e *ObjectError) Error() string {
	return fmt.Sprintf("backup: %s %s: %v", e.Op, e.Object, trimPrefix(e.Err))
}

// Unwrap returns the underlying error.
func (e *ObjectError) Unwrap() error { return e.Err }

func objErr(op, object string, err error) error {
	return &ObjectError{Op: op, Object: object, Err: err}
}

// corruptf returns an error that wraps ErrCorrupt with a fixed detail. The
// detail must never contain stored content.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// trimPrefix drops a leading "backup: " from nested messages so that an
// ObjectError reads "backup: read chunks/..: corrupt object: ..." once.
func trimPrefix(err error) string {
	s := err.Error()
	const p = "backup: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// MarkerError reports a passed verification or drill whose record could not
// be written. errors.Is(err, ErrMarkerNotWritten) holds, and so does
// errors.Is for the target's error.
type MarkerError struct {
	ID  string // the backup that passed
	Err error  // why the record was not written
}

// Error says that the backup passed and names the record.
func (e *MarkerError) Error() string {
	return fmt.Sprintf("backup: %s passed, but its record %s was not written: %v", e.ID, verifiedObject(e.ID), trimPrefix(e.Err))
}

// Unwrap returns ErrMarkerNotWritten and the target's error.
func (e *MarkerError) Unwrap() []error { return []error{ErrMarkerNotWritten, e.Err} }
