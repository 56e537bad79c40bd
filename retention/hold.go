package retention

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
)

// Hold errors.
var (
	// ErrLegalHold is disposal.ErrLegalHold: a destructive action was
	// refused because a legal hold covers what it would destroy.
	ErrLegalHold = disposal.ErrLegalHold
	// ErrHoldNotFound reports that no hold has the given ID.
	ErrHoldNotFound = errors.New("retention: hold not found")
	// ErrHoldLifted reports an attempt to lift a hold that is already lifted.
	ErrHoldLifted = errors.New("retention: hold already lifted")
	// ErrHoldExists reports that HoldStore.Create found the hold's ID taken.
	ErrHoldExists = errors.New("retention: hold already exists")
	// ErrInvalidHold reports a hold request without a scope, reason or
	// author, or with a malformed subject or kind.
	ErrInvalidHold = errors.New("retention: invalid hold")
)

// Hold is a legal hold: while active it blocks crypto-shredding, retention
// disposal and backup pruning of everything it covers. A hold covers the
// records of Subject (any kind when Kind is ""), the records of Kind (of any
// subject when Subject is ""), or, with both set, the records of that kind of
// that subject.
//
// Reason is free text written by the person who set the hold; it must not
// contain PHI. hipaakit stores and prints it but never puts it into errors.
type Hold struct {
	ID      string    `json:"id"`
	Subject string    `json:"subject,omitempty"`
	Kind    string    `json:"kind,omitempty"`
	Reason  string    `json:"reason"`
	SetBy   string    `json:"set_by"`
	SetAt   time.Time `json:"set_at"`
	// LiftedBy, LiftedAt and LiftReason are set when the hold is lifted.
	LiftedBy   string    `json:"lifted_by,omitempty"`
	LiftedAt   time.Time `json:"lifted_at,omitzero"`
	LiftReason string    `json:"lift_reason,omitempty"`
}

// Active reports whether the hold is in force.
func (h Hold) Active() bool { return h.LiftedAt.IsZero() }

// Covers reports whether the active hold h covers the query (subject, kind).
// An empty query field means "any": Covers(h, s, "") asks whether anything
// of subject s may be covered, so a hold on a whole kind covers it too (the
// subject may have records of that kind); Covers(h, "", "") asks whether any
// hold is active at all.
func (h Hold) Covers(subject, kind string) bool {
	if !h.Active() {
		return false
	}
	subjectOK := subject == "" || h.Subject == "" || h.Subject == subject
	kindOK := kind == "" || h.Kind == "" || h.Kind == kind
	return subjectOK && kindOK
}

// CoversRecord reports whether the active hold h covers r. Unlike Covers,
// an empty r.Subject means "no subject": such a record is covered only by
// holds on its kind.
func (h Hold) CoversRecord(r Record) bool {
	return h.Active() && (h.Subject == "" || h.Subject == r.Subject) && (h.Kind == "" || h.Kind == r.Kind)
}

// covering returns the first (by ID) active hold in holds that covers the
// query (subject, kind) as Covers does.
func covering(holds []Hold, subject, kind string) (Hold, bool) {
	return first(holds, func(h Hold) bool { return h.Covers(subject, kind) })
}

func first(holds []Hold, match func(Hold) bool) (Hold, bool) {
	var found Hold
	ok := false
	for _, h := range holds {
		if match(h) && (!ok || h.ID < found.ID) {
			found, ok = h, true
		}
	}
	return found, ok
}

// Holds answers whether a legal hold covers something. backup calls it before
// pruning, disposal (through Registry) before shredding. An empty subject or
// kind means "any", as in Hold.Covers. Implementations fail closed: when the
// hold state cannot be read they return an error, and the caller must not
// destroy anything.
type Holds interface {
	IsHeld(ctx context.Context, subject, kind string) (held bool, hold Hold, err error)
}

// HoldStore persists holds. Implementations: FileHoldStore (embedded
// default) and retention/pgretention.HoldStore (PostgreSQL). Holds are never
// deleted: lifting one records who lifted it, when and why.
type HoldStore interface {
	// Create stores a new, active hold; ErrHoldExists if h.ID is taken.
	Create(ctx context.Context, h Hold) error
	// Lift marks the hold lifted; ErrHoldNotFound or ErrHoldLifted otherwise.
	Lift(ctx context.Context, id, by, reason string, at time.Time) (Hold, error)
	// List returns every hold, active and lifted, ordered by ID.
	List(ctx context.Context) ([]Hold, error)
}

// Registry sets, lifts and answers for legal holds over a HoldStore, and
// records every change in the audit trail (action audit.ActionLegalHold). It
// implements Holds and disposal.HoldChecker.
type Registry struct {
	store HoldStore
	audit audit.Writer
	clock clock.Clock
}

var (
	_ Holds                = (*Registry)(nil)
	_ disposal.HoldChecker = (*Registry)(nil)
)

// RegistryConfig configures NewRegistry. Holds and Audit are required.
type RegistryConfig struct {
	// Holds stores the holds (required).
	Holds HoldStore
	// Audit records every change (required).
	Audit audit.Writer
	// Clock stamps holds and lifts. nil means clock.System.
	Clock clock.Clock
}

// NewRegistry returns a Registry over cfg.Holds that audits to cfg.Audit.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	if cfg.Holds == nil || cfg.Audit == nil {
		return nil, errors.New("retention: NewRegistry needs a HoldStore and an audit writer")
	}
	return &Registry{store: cfg.Holds, audit: cfg.Audit, clock: clock.OrSystem(cfg.Clock)}, nil
}

// HoldRequest asks for a new hold.
type HoldRequest struct {
	Subject string // a subject ID, or "" for every subject
	Kind    string // a record kind, or "" for every kind
	Reason  string // required; must not contain PHI
	SetBy   string // required: the user ID of who sets the hold
}

// MaxReasonLen is the longest hold (and lift) reason or author, in bytes.
const MaxReasonLen = disposal.MaxReasonLen

// validText is disposal's rule for reasons and actors.
func validText(s string) bool { return disposal.ValidReason(s) }

// Set creates an active hold and audits it. The audit event is written
// after the hold is stored: a hold that could not be audited stays in force
// (the safe direction) and Set reports the error.
func (r *Registry) Set(ctx context.Context, req HoldRequest) (Hold, error) {
	if req.Subject == "" && req.Kind == "" {
		return Hold{}, fmt.Errorf("%w: a hold needs a subject, a kind or both", ErrInvalidHold)
	}
	if req.Subject != "" && !phi.ValidSubject(req.Subject) {
		return Hold{}, fmt.Errorf("%w: malformed subject ID", ErrInvalidHold)
	}
	if req.Kind != "" && !ValidKind(req.Kind) {
		return Hold{}, fmt.Errorf("%w: malformed kind", ErrInvalidHold)
	}
	if !validText(req.Reason) || !validText(req.SetBy) {
		return Hold{}, fmt.Errorf("%w: reason and author are required (printable, at most %d bytes)", ErrInvalidHold, MaxReasonLen)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Hold{}, fmt.Errorf("retention: hold id: %w", err)
	}
	h := Hold{
		ID: "hold-" + hex.EncodeToString(b[:]), Subject: req.Subject, Kind: req.Kind,
		Reason: req.Reason, SetBy: req.SetBy, SetAt: r.clock.Now().UTC().Truncate(time.Microsecond),
	}
	if err := r.store.Create(ctx, h); err != nil {
		return Hold{}, err
	}
	if err := r.audit.Write(ctx, holdEvent(h, "set", req.SetBy, h.SetAt)); err != nil {
		return h, fmt.Errorf("retention: hold %s is set but could not be audited: %w", h.ID, err)
	}
	return h, nil
}

// Lift ends a hold. The lift is audited first: when the audit trail cannot
// record it, the hold stays in force.
func (r *Registry) Lift(ctx context.Context, id, by, reason string) (Hold, error) {
	if !validText(by) || !validText(reason) {
		return Hold{}, fmt.Errorf("%w: lifting needs an author and a reason", ErrInvalidHold)
	}
	holds, err := r.store.List(ctx)
	if err != nil {
		return Hold{}, err
	}
	i := sort.Search(len(holds), func(i int) bool { return holds[i].ID >= id })
	if i == len(holds) || holds[i].ID != id {
		return Hold{}, ErrHoldNotFound
	}
	if !holds[i].Active() {
		return Hold{}, ErrHoldLifted
	}
	at := r.clock.Now().UTC().Truncate(time.Microsecond)
	if err := r.audit.Write(ctx, holdEvent(holds[i], "lift", by, at)); err != nil {
		return Hold{}, fmt.Errorf("retention: hold not lifted, audit failed: %w", err)
	}
	return r.store.Lift(ctx, id, by, reason, at)
}

func holdEvent(h Hold, op, by string, at time.Time) audit.Event {
	attrs := map[string]string{"op": op, "hold_id": h.ID}
	if h.Kind != "" {
		attrs["kind"] = h.Kind
	}
	return audit.Event{
		Time: at, Action: audit.ActionLegalHold, Outcome: audit.OutcomeSuccess,
		Reason: "legal_hold_" + op,
		Actor:  audit.Actor{UserID: by}, Origin: audit.Origin{Channel: audit.ChannelSystem},
		Target: audit.Target{RecordType: "legal_hold", RecordID: h.ID, Subject: h.Subject},
		Attrs:  attrs,
	}
}

// Active returns the holds in force, ordered by ID.
func (r *Registry) Active(ctx context.Context) ([]Hold, error) {
	all, err := r.store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, h := range all {
		if h.Active() {
			out = append(out, h)
		}
	}
	return out, nil
}

// List returns every hold, active and lifted, ordered by ID.
func (r *Registry) List(ctx context.Context) ([]Hold, error) { return r.store.List(ctx) }

// IsHeld implements Holds.
func (r *Registry) IsHeld(ctx context.Context, subject, kind string) (bool, Hold, error) {
	holds, err := r.Active(ctx)
	if err != nil {
		return false, Hold{}, err
	}
	h, ok := covering(holds, subject, kind)
	return ok, h, nil
}

// SubjectHold implements disposal.HoldChecker: the subject is held when a
// hold covers it and any of kinds, or, when kinds is empty (the subject's
// record kinds are unknown), when any hold may cover it.
func (r *Registry) SubjectHold(ctx context.Context, subject string, kinds []string) (bool, string, error) {
	holds, err := r.Active(ctx)
	if err != nil {
		return false, "", err
	}
	if len(kinds) == 0 {
		h, ok := covering(holds, subject, "")
		return ok, h.ID, nil
	}
	for _, k := range kinds {
		if h, ok := covering(holds, subject, k); ok {
			return true, h.ID, nil
		}
	}
	return false, "", nil
}
