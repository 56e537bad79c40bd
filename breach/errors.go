package breach

import "errors"

// Sentinels. Every error of the package wraps one of them, and no message
// quotes an incident's free text, a subject's contact details or a path.
var (
	// ErrInvalid reports a request that fails validation; the detail is a
	// *FieldError naming the field.
	ErrInvalid = errors.New("breach: invalid input")
	// ErrPHIText reports free text (a description, a factor, a reason)
	// that looks like it holds PHI: an e-mail address, a long run of
	// digits (phone, SSN, record number) or a date. Its detail is a
	// *FieldError; the text is never quoted.
	ErrPHIText = errors.New("breach: text looks like it holds PHI")
	// ErrNotFound reports an unknown incident.
	ErrNotFound = errors.New("breach: incident not found")
	// ErrConflict reports an append whose sequence number is not the next
	// one of its incident: another change came first. Read and retry.
	ErrConflict = errors.New("breach: concurrent change to the incident")
	// ErrTransition reports a status change the incident's lifecycle
	// refuses (for example closing an incident that was never assessed).
	ErrTransition = errors.New("breach: status change not allowed")
	// ErrMalformed reports a persisted entry that does not parse: bad
	// JSON, an unknown member, a non-canonical encoding or invalid values.
	ErrMalformed = errors.New("breach: malformed entry")
	// ErrVersion reports an entry of a format version this code does not
	// read.
	ErrVersion = errors.New("breach: unsupported entry version")
	// ErrTrailUnverified reports that the audit trail read for scoping
	// failed verification (the cause is the *audit.VerifyError); no scope
	// is returned from a trail that does not verify.
	ErrTrailUnverified = errors.New("breach: the audit trail failed verification")
	// ErrForbidden reports a caller whose role may not perform the
	// operation (revealing contact details needs a privacy-officer role).
	ErrForbidden = errors.New("breach: role not allowed")
	// ErrAudit reports that the audit event of an operation could not be
	// written; the operation did not happen.
	ErrAudit = errors.New("breach: audit write failed")
	// ErrResolver reports that the application's Resolver failed for a
	// subject (the subject is not named: its identifier is in the audited
	// scope, not in the error).
	ErrResolver = errors.New("breach: resolver failed")
)

// FieldError details ErrInvalid or ErrPHIText: the field at fault and why.
// It never carries the offending value.
type FieldError struct {
	Field  string
	Reason string
	Err    error // ErrInvalid or ErrPHIText
}

func (e *FieldError) Error() string {
	if e.Err == ErrPHIText {
		return "breach: " + e.Field + ": " + e.Reason + " (it looks like PHI, which incidents never hold)"
	}
	return "breach: invalid " + e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalid) (or ErrPHIText) true.
func (e *FieldError) Unwrap() error { return e.Err }

func invalid(field, reason string) error {
	return &FieldError{Field: field, Reason: reason, Err: ErrInvalid}
}
