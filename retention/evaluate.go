package retention

import (
	"sort"
	"time"
)

// Record is one retained item as the application's Source reports it. It
// carries identifiers and dates only, never PHI.
type Record struct {
	// ID identifies the record within its kind (an opaque key, not PHI).
	ID string
	// Kind selects the policy, e.g. "encounter".
	Kind string
	// Subject is the opaque ID of the patient whose data the record holds,
	// or "" for records that belong to no subject (such as audit segments).
	Subject string
	// Created is when the record was created.
	Created time.Time
	// LastInEffect is when the record was last in effect (for example the
	// date of the last encounter, or when a policy document was superseded);
	// zero when it does not apply. Retention runs from the later of the two.
	LastInEffect time.Time
}

// Anchor returns the later of r.Created and r.LastInEffect, the instant the
// retention period runs from; zero if both are zero.
func (r Record) Anchor() time.Time {
	if r.LastInEffect.After(r.Created) {
		return r.LastInEffect.UTC()
	}
	if r.Created.IsZero() {
		return time.Time{}
	}
	return r.Created.UTC()
}

// Action is what a plan does with a record or a subject.
type Action string

// Actions.
const (
	Keep    Action = "keep"
	Dispose Action = "dispose"
)

// Reason codes explain every decision. They are stable, machine-readable
// strings, suitable for audit events and reports.
const (
	// ReasonExpired: the retention period has passed (Dispose).
	ReasonExpired = "retention_expired"
	// ReasonActive: the retention period has not passed yet (Keep).
	ReasonActive = "retention_active"
	// ReasonNoPolicy: no policy governs the record's kind (Keep: records are
	// never disposed of by default).
	ReasonNoPolicy = "no_policy"
	// ReasonNoDate: the record has neither a creation nor a last-in-effect
	// date, so its retention cannot be computed (Keep).
	ReasonNoDate = "no_date"
	// ReasonLegalHold: an active legal hold covers the record (Keep).
	ReasonLegalHold = "legal_hold"
	// ReasonRecordRetained: a subject is kept because at least one of its
	// records is kept; its expired records wait until the subject can be
	// crypto-shredded as a whole (or the Source deletes them one by one).
	ReasonRecordRetained = "record_retained"
	// ReasonAllExpired: every record of the subject is expired and none is
	// held, so the subject is crypto-shredded (Dispose).
	ReasonAllExpired = "all_records_expired"
)

// Decision is the plan for one record.
type Decision struct {
	Record Record
	Action Action
	// Reason is one of the Reason constants.
	Reason string
	// Due is when the record becomes (or became) disposable; zero without a
	// policy or a date.
	Due time.Time
	// HoldID names the hold that keeps the record, for ReasonLegalHold.
	HoldID string
}

// SubjectDecision is the plan for one subject: a subject is crypto-shredded
// only when every one of its records is disposed of, because shredding
// destroys the keys of all its data at once.
type SubjectDecision struct {
	Subject string
	Action  Action
	Reason  string
	// Kinds lists the distinct kinds of the subject's records, sorted.
	Kinds []string
	// HoldID names a hold that keeps one of the subject's records, if any.
	HoldID string
}

// Plan is the outcome of Evaluate. It explains every record and subject.
type Plan struct {
	Now time.Time
	// Records has one decision per input record, in input order.
	Records []Decision
	// Subjects has one decision per distinct non-empty Record.Subject,
	// ordered by subject.
	Subjects []SubjectDecision
}

// Shreds returns the subjects the plan crypto-shreds.
func (p Plan) Shreds() []SubjectDecision {
	var out []SubjectDecision
	for _, s := range p.Subjects {
		if s.Action == Dispose {
			out = append(out, s)
		}
	}
	return out
}

// Evaluate decides, for every record, whether to keep or dispose of it at
// now, and why. It is a pure function: no I/O, no clock, the same inputs
// always give the same plan.
//
// A record is kept when an active hold covers it, when no policy governs its
// kind, when it has no date, or when its retention period (counted from
// Record.Anchor with Period.AddTo) has not passed; otherwise it is disposed
// of. A subject is shredded only if every one of its records is disposed of.
// Lifted holds (Hold.Active false) are ignored.
func Evaluate(records []Record, policies Policies, holds []Hold, now time.Time) Plan {
	now = now.UTC()
	plan := Plan{Now: now, Records: make([]Decision, len(records))}
	type acc struct {
		keep   bool
		reason string
		holdID string
		kinds  map[string]struct{}
	}
	subjects := make(map[string]*acc)
	for i, r := range records {
		d := decide(r, policies, holds, now)
		plan.Records[i] = d
		if r.Subject == "" {
			continue
		}
		a := subjects[r.Subject]
		if a == nil {
			a = &acc{kinds: make(map[string]struct{})}
			subjects[r.Subject] = a
		}
		a.kinds[r.Kind] = struct{}{}
		if d.Action == Keep {
			a.keep = true
			// A hold is the most important reason to report.
			if a.reason != ReasonLegalHold {
				a.reason = ReasonRecordRetained
			}
			if d.Reason == ReasonLegalHold {
				a.reason, a.holdID = ReasonLegalHold, d.HoldID
			}
		}
	}
	plan.Subjects = make([]SubjectDecision, 0, len(subjects))
	for s, a := range subjects {
		sd := SubjectDecision{Subject: s, Action: Dispose, Reason: ReasonAllExpired, HoldID: a.holdID}
		if a.keep {
			sd.Action, sd.Reason = Keep, a.reason
		}
		for k := range a.kinds {
			sd.Kinds = append(sd.Kinds, k)
		}
		sort.Strings(sd.Kinds)
		plan.Subjects = append(plan.Subjects, sd)
	}
	sort.Slice(plan.Subjects, func(i, j int) bool { return plan.Subjects[i].Subject < plan.Subjects[j].Subject })
	return plan
}

func decide(r Record, policies Policies, holds []Hold, now time.Time) Decision {
	d := Decision{Record: r, Action: Keep}
	if h, ok := first(holds, func(h Hold) bool { return h.CoversRecord(r) }); ok {
		d.Reason, d.HoldID = ReasonLegalHold, h.ID
		return d
	}
	p, ok := policies.For(r.Kind)
	if !ok {
		d.Reason = ReasonNoPolicy
		return d
	}
	anchor := r.Anchor()
	if anchor.IsZero() {
		d.Reason = ReasonNoDate
		return d
	}
	d.Due = p.Keep.AddTo(anchor)
	if now.Before(d.Due) {
		d.Reason = ReasonActive
		return d
	}
	d.Action, d.Reason = Dispose, ReasonExpired
	return d
}
