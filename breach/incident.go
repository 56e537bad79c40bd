package breach

import (
	"slices"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Status is where an incident stands.
type Status string

// Statuses, in lifecycle order. An incident opens as StatusOpen, becomes
// StatusAssessed once the risk assessment has a conclusion, StatusNotified
// once the required notices went out, and StatusClosed at the end. An
// assessed incident whose conclusion needs no notice (low probability of
// compromise, an exception, the safe harbor) may close without notice.
const (
	StatusOpen     Status = "open"
	StatusAssessed Status = "assessed"
	StatusNotified Status = "notified"
	StatusClosed   Status = "closed"
)

// EntityKind says whose breach it is: a covered entity notifies
// individuals, media and HHS; a business associate notifies the covered
// entity (164.410).
type EntityKind string

// Entity kinds.
const (
	CoveredEntity     EntityKind = "covered_entity"
	BusinessAssociate EntityKind = "business_associate"
)

// Field names an incident attribute. Every change to an incident is a list
// of (field, prior value, new value) triples; the history of an incident is
// the list of its entries.
type Field string

// Fields of an incident.
const (
	FieldStatus        Field = "status"
	FieldDiscoveredOn  Field = "discovered_on" // a calendar date, YYYY-MM-DD, in FieldTimeZone
	FieldTimeZone      Field = "time_zone"     // IANA name, e.g. America/New_York
	FieldReportedBy    Field = "reported_by"   // opaque user identifier
	FieldDescription   Field = "description"
	FieldVector        Field = "vector" // suspected vector, e.g. "stolen_credentials"
	FieldEntity        Field = "entity"
	FieldDelayUntil    Field = "law_enforcement_delay_until" // YYYY-MM-DD, 164.412
	FieldDelayNote     Field = "law_enforcement_delay_note"
	FieldNature        Field = "factor_nature"     // 164.402(2)(i)
	FieldPerson        Field = "factor_person"     // 164.402(2)(ii)
	FieldAcquired      Field = "factor_acquired"   // 164.402(2)(iii)
	FieldMitigation    Field = "factor_mitigation" // 164.402(2)(iv)
	FieldConclusion    Field = "conclusion"
	FieldConclusionWhy Field = "conclusion_reason"
	FieldAssessedBy    Field = "assessed_by"
	FieldScopeDigest   Field = "scope_digest" // SHA-256 of the scope's canonical JSON
	FieldAffected      Field = "affected"     // decimal count of affected subjects
	FieldExcluded      Field = "excluded"     // decimal count of safe-harbor exclusions
	FieldNotifiedOn    Field = "notified_on"  // YYYY-MM-DD the notices went out
)

var knownFields = []Field{
	FieldStatus, FieldDiscoveredOn, FieldTimeZone, FieldReportedBy, FieldDescription, FieldVector, FieldEntity,
	FieldDelayUntil, FieldDelayNote, FieldNature, FieldPerson, FieldAcquired, FieldMitigation, FieldConclusion,
	FieldConclusionWhy, FieldAssessedBy, FieldScopeDigest, FieldAffected, FieldExcluded, FieldNotifiedOn,
}

// KnownField reports whether f is one of the fields above.
func KnownField(f Field) bool { return slices.Contains(knownFields, f) }

// Conclusion is the outcome of the risk assessment.
type Conclusion string

// Conclusions. 164.402 presumes a breach unless the assessment shows a low
// probability that the PHI has been compromised, or an exception applies.
const (
	ConclusionBreach         Conclusion = "breach"
	ConclusionLowProbability Conclusion = "low_probability"
	// The three exceptions of 164.402(1).
	ConclusionWorkforceGoodFaith    Conclusion = "exception_workforce_good_faith"   // (1)(i)
	ConclusionInadvertentAuthorized Conclusion = "exception_inadvertent_authorized" // (1)(ii)
	ConclusionCouldNotRetain        Conclusion = "exception_could_not_retain"       // (1)(iii)
	// ConclusionSecured: every affected value was secured (encrypted, key
	// not compromised), so it is not unsecured PHI (164.402, 164.404(a)).
	ConclusionSecured Conclusion = "secured"
)

// NeedsNotice reports whether c obliges notification.
func (c Conclusion) NeedsNotice() bool { return c == ConclusionBreach }

func validConclusion(c Conclusion) bool {
	switch c {
	case ConclusionBreach, ConclusionLowProbability, ConclusionWorkforceGoodFaith,
		ConclusionInadvertentAuthorized, ConclusionCouldNotRetain, ConclusionSecured:
		return true
	}
	return false
}

// Change is one field's change within an entry.
type Change struct {
	Field Field  `json:"field"`
	Prior string `json:"prior"`
	New   string `json:"new"`
}

// Entry is one append-only change to an incident: who, when, which
// operation, and each field's prior and new value. Seq numbers an
// incident's entries from 1 without gaps.
type Entry struct {
	Incident string    `json:"incident"`
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	By       Actor     `json:"by"`
	Op       string    `json:"op"` // open, update, assess, scope, status
	Changes  []Change  `json:"changes"`
}

// Actor is who made a change: the user's opaque identifier and role.
type Actor struct {
	UserID string `json:"user_id"`
	Role   string `json:"role,omitempty"`
}

func actorOf(a audit.Actor) Actor { return Actor{UserID: a.UserID, Role: a.Role} }

// Incident is the current state of an incident: the fold of its entries.
type Incident struct {
	ID      string
	Version uint64 // Seq of the last entry
	Opened  time.Time
	Updated time.Time
	Fields  map[Field]string
}

// Get returns a field's current value ("" when unset).
func (i *Incident) Get(f Field) string { return i.Fields[f] }

// Status is the incident's status.
func (i *Incident) Status() Status { return Status(i.Fields[FieldStatus]) }

// Conclusion is the assessment's conclusion ("" before assessment).
func (i *Incident) Conclusion() Conclusion { return Conclusion(i.Fields[FieldConclusion]) }

// Entity is the kind of entity that suffered the breach.
func (i *Incident) Entity() EntityKind { return EntityKind(i.Fields[FieldEntity]) }

// Location is the time zone deadlines are computed in.
func (i *Incident) Location() (*time.Location, error) {
	loc, err := time.LoadLocation(i.Fields[FieldTimeZone])
	if err != nil || i.Fields[FieldTimeZone] == "" {
		return nil, invalid(string(FieldTimeZone), "not a known IANA time zone")
	}
	return loc, nil
}

// Affected is the recorded count of affected subjects (0 before scoping).
func (i *Incident) Affected() int {
	n, _ := strconv.Atoi(i.Fields[FieldAffected])
	return n
}

// Fold builds an incident from its entries, checking that they belong to
// one incident and are numbered from 1 without gaps and that each change's
// prior value is the value the field had.
func Fold(entries []Entry) (Incident, error) {
	if len(entries) == 0 {
		return Incident{}, ErrNotFound
	}
	inc := Incident{ID: entries[0].Incident, Fields: map[Field]string{}}
	for i := range entries {
		if err := inc.apply(&entries[i]); err != nil {
			return Incident{}, err
		}
	}
	return inc, nil
}

func (inc *Incident) apply(e *Entry) error {
	if e.Incident != inc.ID || e.Seq != inc.Version+1 {
		return &EntryError{Incident: inc.ID, Seq: e.Seq, Reason: "out of sequence", Err: ErrMalformed}
	}
	for _, c := range e.Changes {
		if inc.Fields[c.Field] != c.Prior {
			return &EntryError{Incident: inc.ID, Seq: e.Seq, Reason: "prior value of " + string(c.Field) + " does not match the history", Err: ErrMalformed}
		}
		if c.New == "" {
			delete(inc.Fields, c.Field)
		} else {
			inc.Fields[c.Field] = c.New
		}
	}
	if e.Seq == 1 {
		inc.Opened = e.At
	}
	inc.Version, inc.Updated = e.Seq, e.At
	return nil
}

// EntryError details ErrMalformed or ErrVersion for one persisted entry.
type EntryError struct {
	Incident string // "" when the entry could not be read far enough
	Seq      uint64
	Line     int // 1-based line in a file store, 0 otherwise
	Reason   string
	Err      error
}

func (e *EntryError) Error() string {
	s := "breach: entry"
	if e.Incident != "" {
		s += " " + e.Incident + "#" + strconv.FormatUint(e.Seq, 10)
	}
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return s + ": " + e.Reason
}

// Unwrap returns the sentinel.
func (e *EntryError) Unwrap() error { return e.Err }
