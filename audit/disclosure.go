package audit

import (
	"context"
	"time"
)

// Purposes of use and disclosure that an accounting of disclosures leaves
// out by default: 45 CFR 164.528(a)(1)(i) excludes disclosures to carry out
// treatment, payment and health care operations (164.506).
const (
	PurposeTreatment  = "treatment"
	PurposePayment    = "payment"
	PurposeOperations = "operations" // health care operations
)

// tpoPurposes are the Purpose codes that count as treatment, payment or
// health care operations.
var tpoPurposes = []string{PurposeTreatment, PurposePayment, PurposeOperations, "health_care_operations"}

// TPOPurposes returns the Purpose codes that AccountingOfDisclosures treats
// as treatment, payment or health care operations and so leaves out unless
// AccountingRequest.IncludeTPO is set: treatment, payment, operations and
// health_care_operations. The match is exact: a purpose such as
// "emergency_treatment" is listed.
func TPOPurposes() []string { return append([]string(nil), tpoPurposes...) }

// IsTPOPurpose reports whether purpose is one of TPOPurposes.
func IsTPOPurpose(purpose string) bool {
	for _, p := range tpoPurposes {
		if purpose == p {
			return true
		}
	}
	return false
}

// disclosureActions are the actions an accounting reads: disclosures, and
// the accesses that an IncludeTPO accounting lists as well.
var disclosureActions = []Action{
	ActionDisclose, ActionRead, ActionQuery, ActionExport, ActionReveal, ActionCreate, ActionUpdate, ActionDelete, ActionEmergencyAccess,
}

// DisclosureActions returns the actions an AccountingRequest uses by default:
// disclose, read, query (a lookup that found the patient), export, reveal,
// create, update, delete and emergency_access.
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
	// IncludeTPO also lists what 164.528(a)(1) leaves out of an accounting:
	// disclosures for treatment, payment and health care operations
	// (TPOPurposes) and accesses that name no recipient or no purpose
	// (uses inside the covered entity). With it the accounting is the full
	// access report of the patient.
	IncludeTPO bool
	// IncludeFailures also lists attempts that failed or were denied.
	IncludeFailures bool
	// Now is the time of the request; zero means time.Now.
	Now time.Time
}

// Disclosure is one line of an accounting: when the patient's PHI was
// disclosed, to whom, what, why, and by whom.
type Disclosure struct {
	Time    time.Time `json:"time"`
	Actor   Actor     `json:"actor"` // who, including emergency (break-glass) access and its reason
	Action  Action    `json:"action"`
	Outcome Outcome   `json:"outcome"`
	Reason  string    `json:"reason,omitempty"` // the failure reason, for failed attempts
	// Recipient is who received the PHI: name and, if known, address.
	Recipient Recipient `json:"recipient,omitzero"`
	// What: the record and data element.
	RecordType string `json:"record_type,omitempty"`
	RecordID   string `json:"record_id,omitempty"`
	Field      string `json:"field,omitempty"`
	// Purpose is why, as recorded with the disclosure (e.g. "public_health").
	Purpose string  `json:"purpose,omitempty"`
	Channel Channel `json:"channel,omitempty"`
	Route   string  `json:"route,omitempty"`
	// Stream and Seq locate the audit record, so that the entry can be
	// checked against the verified trail.
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
}

// Accounting is the accounting of disclosures of one patient
// (45 CFR 164.528), oldest first.
type Accounting struct {
	Subject string    `json:"subject"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	// IncludesTPO is true when the request set IncludeTPO.
	IncludesTPO bool         `json:"includes_tpo"`
	Disclosures []Disclosure `json:"disclosures"`
}

// IsAccountable reports whether e is a disclosure that an accounting of
// disclosures lists by default: it names a recipient and a purpose, and the
// purpose is not treatment, payment or health care operations.
func IsAccountable(e *Event) bool {
	return !e.Recipient.IsZero() && e.Purpose != "" && !IsTPOPurpose(e.Purpose)
}

// AccountingOfDisclosures lists, from s, every disclosure of req.Subject's
// PHI in the requested period (by default the six years before now): every
// event of the request's actions that names a recipient and a purpose other
// than treatment, payment or health care operations (IsAccountable), or,
// with IncludeTPO, every such event at all. It matches the subject exactly,
// like every Filter, and works with any Searcher (file log, PostgreSQL).
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
	acc := Accounting{Subject: req.Subject, Since: since.UTC(), Until: until.UTC(), IncludesTPO: req.IncludeTPO}
	for r, err := range s.Search(ctx, f) {
		if err != nil {
			return Accounting{}, err
		}
		e := &r.Event
		if !req.IncludeTPO && !IsAccountable(e) {
			continue
		}
		acc.Disclosures = append(acc.Disclosures, Disclosure{
			Time: e.Time, Actor: e.Actor, Action: e.Action, Outcome: e.Outcome, Reason: e.Reason,
			Recipient:  e.Recipient,
			RecordType: e.Target.RecordType, RecordID: e.Target.RecordID, Field: e.Target.Field,
			Purpose: e.Purpose, Channel: e.Origin.Channel, Route: e.Origin.Route,
			Stream: r.Stream, Seq: r.Seq,
		})
	}
	return acc, nil
}

// RecordDisclosure writes e to w as a disclosure of a patient's PHI to a
// recipient: e.Action must be ActionDisclose (or empty, which means it),
// and e must name the patient (Target.Subject), the recipient's name
// (Recipient.Name) and the purpose. A zero Outcome means OutcomeSuccess:
// record the disclosure after it happened. The error is a *FieldError
// (errors.Is ErrInvalidEvent) naming the missing field, or w's error; on
// an error the caller must not disclose (no audit, no access).
func RecordDisclosure(ctx context.Context, w Writer, e Event) error {
	if e.Action == "" {
		e.Action = ActionDisclose
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
	switch {
	case e.Action != ActionDisclose:
		return &FieldError{Field: "action", Reason: `a disclosure must have action "disclose"`}
	case e.Target.Subject == "":
		return &FieldError{Field: "target.subject", Reason: "a disclosure must name the patient"}
	case e.Recipient.Name == "":
		return &FieldError{Field: "recipient.name", Reason: "a disclosure must name its recipient"}
	case e.Purpose == "":
		return &FieldError{Field: "purpose", Reason: "a disclosure must state its purpose"}
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return w.Write(ctx, e)
}
