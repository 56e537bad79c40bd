package disposal

import (
	"errors"
	"strconv"
)

// Errors. They are distinct so that callers can tell them apart with
// errors.Is; the typed details below wrap them.
var (
	// ErrLegalHold reports that a shred was refused because a legal hold
	// covers the subject.
	ErrLegalHold = errors.New("disposal: refused, subject under legal hold")
	// ErrUnknownSubject reports a shred of a subject that has no keys and no
	// disposal on record: nothing was ever sealed for it (or the ID is wrong).
	ErrUnknownSubject = errors.New("disposal: unknown subject")
	// ErrInvalidSubject reports a malformed subject ID (see phi.ValidSubject).
	ErrInvalidSubject = errors.New("disposal: invalid subject ID")
	// ErrInvalidReason reports an empty, over-long or non-printable reason.
	ErrInvalidReason = errors.New("disposal: invalid reason")
	// ErrInvalidCertificate reports a certificate that is malformed, altered,
	// forged or signed by another key. *CertificateError says why.
	ErrInvalidCertificate = errors.New("disposal: invalid certificate")
	// ErrUnsupportedVersion reports a certificate, ledger entry or key file
	// of a format version this code does not know.
	ErrUnsupportedVersion = errors.New("disposal: unsupported format version")
	// ErrMirror reports that the mirror of a mirrored ledger
	// (NewMirroredLedger) could not be written or read. From Shred it
	// comes with a valid Result: the subject is shredded and recorded in
	// the ledger, and the next Replay copies the entry to the mirror.
	ErrMirror = errors.New("disposal: ledger mirror unavailable")
	// ErrCorruptLedger reports a ledger entry that does not parse or a
	// ledger whose hash chain does not verify. *LedgerError says where.
	ErrCorruptLedger = errors.New("disposal: corrupt ledger")
	// ErrInvalidKey reports a malformed signing or verification key.
	ErrInvalidKey = errors.New("disposal: invalid key")
)

// CertificateError details ErrInvalidCertificate (or ErrUnsupportedVersion).
// It never quotes the certificate's content.
type CertificateError struct {
	// Reason is a short fixed description such as "bad signature".
	Reason string
	err    error
}

func (e *CertificateError) Error() string {
	return "disposal: invalid certificate: " + e.Reason
}

// Unwrap returns ErrInvalidCertificate, or ErrUnsupportedVersion.
func (e *CertificateError) Unwrap() error { return e.err }

func certErr(reason string) error {
	return &CertificateError{Reason: reason, err: ErrInvalidCertificate}
}

// LedgerError details ErrCorruptLedger: which entry is bad and why. It never
// quotes the entry's bytes.
type LedgerError struct {
	// Seq is the sequence number of the first bad entry (0 when unknown).
	Seq    uint64
	Reason string
	err    error
}

func (e *LedgerError) Error() string {
	s := "disposal: corrupt ledger"
	if e.Seq != 0 {
		s += " at entry " + strconv.FormatUint(e.Seq, 10)
	}
	return s + ": " + e.Reason
}

// Unwrap returns ErrCorruptLedger and the underlying cause, if any.
func (e *LedgerError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrCorruptLedger, e.err}
	}
	return []error{ErrCorruptLedger}
}
