package audit

import (
	"context"
	"time"
)

// disclosureActions count as an access to or disclosure of a patient's PHI
// in an accounting, unless the request names its own.
var disclosureActions = []Action{
	ActionRead, ActionExport, ActionReveal, ActionCreate, ActionUpdate, ActionDelete, ActionEmergencyAccess,
}

// DisclosureActions returns the actions an AccountingRequest uses by default:
// read, export, reveal, create, update, delete and emergency_access.
func DisclosureActions() []Action { return append([]Action(nil), disclosureActions...) }

// AccountingRequest asks for the accounting of disclosures of one patient.
type AccountingRequest struct {
	// Subject is the patient's opaque identifier (Target.Subject). Required.
	Subject string
	// Since and Until bound the period (Since inclusive, Until exclusive).
	// A zero Until means Now; a zero Since means DefaultRetentionYears
	// (six) calendar years before Until, the period of 45 CFR 164.528(a)(3).
	Since, Until time.Time
	// Actions replaces DisclosureActions when set.
	Actions []Action
	// IncludeFailures also lists attempts that failed or were denied.
	IncludeFailures bool
	// Now is the time of the request; zero means time.Now.
	Now time.Time
}

// Disclosure is one line of an accounting: who accessed or disclosed the
// patient's PHI, when, what, how and why.
type Disclosure struct {
	Time    time.Time
	Actor   Actor // who, including emergency (break-glass) access and its reason
	Action  Action
	Outcome Outcome
	Reason  string // the failure reason, for failed attempts
	// What: the record and data element.
	RecordType, RecordID, Field string
	// Purpose is why, as recorded with the access (e.g. "treatment").
	Purpose string
	Channel Channel
	Route   string
	// Stream and Seq locate the audit record, so that the entry can be
	// checked against the verified trail.
	Stream string
	Seq    uint64
}

// Accounting is the accounting of disclosures of one patient
// (45 CFR 164.528), oldest first.
type Accounting struct {
	Subject      string
	Since, Until time.Time
	Disclosures  []Disclosure
}

// AccountingOfDisclosures lists, from s, every access to and disclosure of
// req.Subject's PHI in the requested period (by default the six years before
// now). It matches the subject exactly, like every Filter.
func AccountingOfDisclosures(ctx context.Context, s Searcher, req AccountingRequest) (Accounting, error) {
	if req.Subject == "" {
		return Accounting{}, &FilterError{Field: "subject", Reason: "required for an accounting of disclosures"}
	}
	until := req.Until
	if until.IsZero() {
		until = req.Now
		if until.IsZero() {
			until = time.Now()
		}
	}
	since := req.Since
	if since.IsZero() {
		since = until.AddDate(-DefaultRetentionYears, 0, 0)
	}
	f := Filter{Subject: req.Subject, Since: since, Until: until, Actions: req.Actions}
	if len(f.Actions) == 0 {
		f.Actions = disclosureActions
	}
	if !req.IncludeFailures {
		f.Outcome = OutcomeSuccess
	}
	if err := f.Validate(); err != nil {
		return Accounting{}, err
	}
	acc := Accounting{Subject: req.Subject, Since: since.UTC(), Until: until.UTC()}
	for r, err := range s.Search(ctx, f) {
		if err != nil {
			return Accounting{}, err
		}
		e := &r.Event
		acc.Disclosures = append(acc.Disclosures, Disclosure{
			Time: e.Time, Actor: e.Actor, Action: e.Action, Outcome: e.Outcome, Reason: e.Reason,
			RecordType: e.Target.RecordType, RecordID: e.Target.RecordID, Field: e.Target.Field,
			Purpose: e.Purpose, Channel: e.Origin.Channel, Route: e.Origin.Route,
			Stream: r.Stream, Seq: r.Seq,
		})
	}
	return acc, nil
}
