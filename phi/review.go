package phi

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hipaakit/hipaakit/audit"
)

// PurposeAuditReview is the purpose of a reveal made to review a change in
// a record's history (Reviewer): an audit, not treatment.
const PurposeAuditReview Purpose = "audit_review"

// ErrReviewDenied reports that the reviewer may not see changed values
// (ReviewerConfig.Permitted said no, or there is no Permitted at all). The
// refusal is recorded.
var ErrReviewDenied = errors.New("phi: not permitted to review changed values")

// ReviewerConfig configures a Reviewer.
type ReviewerConfig struct {
	// Vault opens the values; its audit writer (VaultConfig.Audit) records
	// every review and every refusal, and its AuditInfo names the reviewer.
	// Required.
	Vault *Vault
	// Permitted reports whether the reviewer acting in ctx may see the
	// prior and new values of changes, for example whether the signed-in
	// user's roles hold an explicit permission such as
	// "audit:review_values". nil: nobody may (every Review is refused and
	// recorded as refused).
	Permitted func(ctx context.Context) bool
	// Binding returns the Binding the values of a change were sealed for.
	// nil: Subject, Field and RecordID of the entry, without a tenant
	// (DefaultChangeBinding).
	Binding func(e audit.HistoryEntry) Binding
}

// DefaultChangeBinding is the Binding of a change's values when
// ReviewerConfig.Binding is nil: the entry's subject, field and record ID.
func DefaultChangeBinding(e audit.HistoryEntry) Binding {
	return Binding{Subject: e.Subject, Field: e.Field, Record: e.RecordID}
}

// Reviewer opens the sealed prior and new values of the changes in a
// record's history (audit.RecordHistory) for a permitted reviewer, through
// audited reveals with purpose PurposeAuditReview. A Reviewer is safe for
// concurrent use.
type Reviewer struct {
	vault     *Vault
	permitted func(context.Context) bool
	binding   func(audit.HistoryEntry) Binding
}

// NewReviewer returns the Reviewer of cfg.
func NewReviewer(cfg ReviewerConfig) (*Reviewer, error) {
	if cfg.Vault == nil {
		return nil, errors.New("phi: ReviewerConfig.Vault is required")
	}
	r := &Reviewer{vault: cfg.Vault, permitted: cfg.Permitted, binding: cfg.Binding}
	if r.binding == nil {
		r.binding = DefaultChangeBinding
	}
	return r, nil
}

// ValueState says what became of one value of a reviewed change.
type ValueState string

// Value states.
const (
	// ValueAbsent: the change recorded no such value (a create has no
	// prior value; a failed attempt may have none).
	ValueAbsent ValueState = "absent"
	// ValueRevealed: the value was opened; ReviewedValue.Value holds it.
	ValueRevealed ValueState = "revealed"
	// ValueDestroyed: the subject was crypto-shredded, so the value can
	// never be opened again. This is an answer, not an error.
	ValueDestroyed ValueState = "destroyed"
)

// ReviewedValue is one value of a reviewed change.
type ReviewedValue struct {
	State ValueState
	// Value is the plaintext when State is ValueRevealed; it redacts
	// itself under fmt, slog and JSON, and Value.Reveal hands it out.
	Value Text
}

// ReviewedChange is a change of a record's history with its values opened.
type ReviewedChange struct {
	// Stream and Seq locate the change's audit record.
	Stream string
	Seq    uint64
	Field  string
	New    ReviewedValue
	Prior  ReviewedValue
}

// ReviewError reports a value of a change that could not be opened for a
// reason other than a shred (a wrong binding, a tampered value, a store or
// KEK failure, an unrecorded reveal, a change whose binding is invalid).
// It names the audit record and which
// value ("new" or "prior"), never the value.
type ReviewError struct {
	Stream string
	Seq    uint64
	Value  string
	Err    error
}

func (e *ReviewError) Error() string {
	what := "phi: review of "
	if e.Value != "" {
		what += "the " + e.Value + " value of "
	}
	return what + "audit record " + e.Stream + "/" + strconv.FormatUint(e.Seq, 10) + ": " + e.Err.Error()
}

func (e *ReviewError) Unwrap() error { return e.Err }

// Review opens the new and prior values of change e for the reviewer in
// ctx. Each value is opened through an audited reveal (action reveal,
// purpose audit_review, the change's subject, field and record, and the
// attributes audit_stream, audit_seq and value naming what was reviewed),
// recorded after the value was opened and before it is returned, with
// outcome failure when it could not be opened (reason "shredded" for a
// destroyed value): no audit, no access (ErrAuditFailed).
//
// A reviewer that is not permitted gets ErrReviewDenied, after an event
// with outcome failure and reason "no_permission" is recorded. A value of a
// shredded subject is reported as ValueDestroyed, not as an error. Values
// sealed under keys since rotated (subject key or KEK) open as before.
func (r *Reviewer) Review(ctx context.Context, e audit.HistoryEntry) (ReviewedChange, error) {
	out := ReviewedChange{Stream: e.Stream, Seq: e.Seq, Field: e.Field,
		New: ReviewedValue{State: ValueAbsent}, Prior: ReviewedValue{State: ValueAbsent}}
	b := r.binding(e)
	if err := b.validate(); err != nil {
		return ReviewedChange{}, &ReviewError{Stream: e.Stream, Seq: e.Seq, Err: err}
	}
	if r.permitted == nil || !r.permitted(ctx) {
		return ReviewedChange{}, r.refuse(ctx, b, e)
	}
	if e.Change == nil {
		return out, nil
	}
	for _, v := range []struct {
		name   string
		sealed []byte
		out    *ReviewedValue
	}{{"prior", e.Change.Prior, &out.Prior}, {"new", e.Change.New, &out.New}} {
		if len(v.sealed) == 0 {
			continue
		}
		attrs := map[string]string{"audit_stream": e.Stream, "audit_seq": strconv.FormatUint(e.Seq, 10), "value": v.name}
		pt, err := r.vault.reveal(ctx, b, v.sealed, PurposeAuditReview, attrs)
		switch {
		case err == nil:
			*v.out = ReviewedValue{State: ValueRevealed, Value: NewText(string(pt))}
			clear(pt)
		case errors.Is(err, ErrShredded) && !errors.Is(err, ErrAuditFailed):
			*v.out = ReviewedValue{State: ValueDestroyed}
		default:
			return ReviewedChange{}, &ReviewError{Stream: e.Stream, Seq: e.Seq, Value: v.name, Err: err}
		}
	}
	return out, nil
}

// refuse records a review that was not permitted and returns
// ErrReviewDenied (or ErrAuditFailed when the refusal cannot be recorded).
func (r *Reviewer) refuse(ctx context.Context, b Binding, e audit.HistoryEntry) error {
	v := r.vault
	if v.audit == nil {
		return fmt.Errorf("%w: no audit writer configured", ErrAuditFailed)
	}
	ev := v.revealEvent(ctx, b, PurposeAuditReview, map[string]string{"audit_stream": e.Stream, "audit_seq": strconv.FormatUint(e.Seq, 10)})
	ev.Outcome, ev.Reason = audit.OutcomeFailure, "no_permission"
	if err := v.audit.Write(ctx, ev); err != nil {
		return errors.Join(ErrReviewDenied, ErrAuditFailed)
	}
	return ErrReviewDenied
}
