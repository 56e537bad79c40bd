package audit

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error returned by this package's record, chain,
// checkpoint, verification and file-log code matches one of these with
// errors.Is; typed details (*LineError, *VerifyError, *TornTailError) say
// where. Messages never quote the offending bytes, which may hold PHI.
var (
	// ErrInvalidEvent reports an Event that fails Validate.
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrMalformed reports bytes that are not a record or checkpoint line.
	ErrMalformed = errors.New("audit: malformed line")
	// ErrNonCanonical reports a line that parses as JSON but is not the
	// canonical encoding of its content (see FORMAT.md).
	ErrNonCanonical = errors.New("audit: line is not in canonical form")
	// ErrOversized reports a line longer than MaxLineSize.
	ErrOversized = errors.New("audit: line exceeds the maximum size")
	// ErrVersion reports a line whose format version this code does not know.
	ErrVersion = errors.New("audit: unsupported format version")
	// ErrTorn reports an incomplete last line: a write that was cut short
	// by a crash.
	ErrTorn = errors.New("audit: torn line at the end of the log")
	// ErrBadSignature reports a checkpoint whose signature does not verify
	// under any trusted key.
	ErrBadSignature = errors.New("audit: checkpoint signature does not verify")
	// ErrNoKeys reports a checkpoint read without trusted public keys to
	// check its signature with.
	ErrNoKeys = errors.New("audit: no trusted checkpoint keys given")
	// ErrChainBroken reports a modified, deleted, inserted, duplicated or
	// reordered record.
	ErrChainBroken = errors.New("audit: hash chain broken")
	// ErrTruncated reports that records covered by a checkpoint, or
	// records that a recorded purge did not remove, are missing.
	ErrTruncated = errors.New("audit: log truncated")
	// ErrClosed reports a Write or Close on a closed writer.
	ErrClosed = errors.New("audit: writer closed")
	// ErrUnavailable reports that the durable writer failed or stayed full
	// past its deadline; the event was not acknowledged and the access it
	// audits must be refused.
	ErrUnavailable = errors.New("audit: durable writer unavailable")
)

// FieldError details an ErrInvalidEvent: which field is wrong and why. It
// never carries the field's value.
type FieldError struct {
	Field  string // e.g. "actor.user_id"
	Reason string // e.g. "longer than 1024 bytes"
}

func (e *FieldError) Error() string {
	return "audit: invalid event: " + e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalidEvent) true.
func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

// LineError says where in a log an unreadable line is. Err is one of the
// sentinels (ErrMalformed, ErrNonCanonical, ErrOversized, ErrVersion,
// ErrTorn, ErrInvalidEvent, or ErrBadSignature for a checkpoint file line).
type LineError struct {
	Segment string // file name of the segment, empty when not from a file
	Line    int64  // 1-based line number within the segment
	Offset  int64  // byte offset of the line's start within the segment
	Err     error
}

func (e *LineError) Error() string {
	return "audit: " + position(e.Segment, e.Line) + ": " + trimPrefix(e.Err.Error())
}

func (e *LineError) Unwrap() error { return e.Err }

// Problem classifies a verification failure.
type Problem string

// Verification problems.
const (
	ProblemModified   Problem = "modified"   // a record's content or stored hash does not match
	ProblemDeleted    Problem = "deleted"    // a sequence number is missing
	ProblemDuplicated Problem = "duplicated" // a record appears twice
	ProblemReordered  Problem = "reordered"  // a sequence number goes backwards
	ProblemInserted   Problem = "inserted"   // a record that does not belong to the chain
	ProblemStream     Problem = "stream"     // a record of another stream
	ProblemSignature  Problem = "signature"  // a checkpoint signature does not verify
	ProblemCheckpoint Problem = "checkpoint" // a checkpoint disagrees with the records
	ProblemTruncated  Problem = "truncated"  // records covered by a checkpoint or not purged are missing
	ProblemAnchor     Problem = "anchor"     // the log starts without a genesis or signed anchor
	ProblemUnreadable Problem = "unreadable" // a line could not be parsed
)

// VerifyError names the first bad event that verification found: its
// stream and sequence number (the position where the chain first fails)
// and, for file logs, the segment and line.
type VerifyError struct {
	Stream  string
	Seq     uint64
	Problem Problem
	Segment string
	Line    int64
	Err     error // ErrChainBroken, ErrBadSignature, ErrTruncated or a line error
}

func (e *VerifyError) Error() string {
	s := "audit: verification failed at stream " + strconv.Quote(e.Stream) + " seq " + strconv.FormatUint(e.Seq, 10)
	if e.Segment != "" {
		s += " (" + position(e.Segment, e.Line) + ")"
	}
	return s + ": " + string(e.Problem) + ": " + trimPrefix(e.Err.Error())
}

func (e *VerifyError) Unwrap() error { return e.Err }

// TornTailError reports an incomplete tail at the end of the last segment,
// found when a FileLog is opened. Repair (FileOptions.Repair) truncates
// exactly these bytes and records that it did.
type TornTailError struct {
	Segment string
	Offset  int64 // where the torn bytes start
	Bytes   int64 // how many bytes follow the last complete record
}

func (e *TornTailError) Error() string {
	return fmt.Sprintf("audit: torn tail in segment %s: %d bytes after offset %d (open with Repair to drop them)", e.Segment, e.Bytes, e.Offset)
}

func (e *TornTailError) Unwrap() error { return ErrTorn }

func position(segment string, line int64) string {
	if segment == "" {
		return "line " + strconv.FormatInt(line, 10)
	}
	return segment + ":" + strconv.FormatInt(line, 10)
}

func trimPrefix(s string) string {
	const p = "audit: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
