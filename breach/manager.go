package breach

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// RolePrivacyOfficer is the default role that may assess incidents and
// reveal notification contact details.
const RolePrivacyOfficer = "privacy_officer"

// RecordType is the audit Target.RecordType of incident events.
const RecordType = "breach_incident"

// PurposeNotification is the audit Purpose of contact reveals and of the
// disclosure of a mailing list to the mail house.
const PurposeNotification = "breach_notification"

// Config configures a Manager.
type Config struct {
	// Store keeps the incidents. Required.
	Store Store
	// Audit records every change, reveal and export before it happens;
	// when it fails the operation fails (ErrAudit). Required.
	Audit audit.Writer
	// PrivacyOfficerRoles may change incidents after they are opened and
	// reveal contact details. nil means []string{RolePrivacyOfficer};
	// anyone with a user identifier may open (report) an incident.
	PrivacyOfficerRoles []string
	// Resolver gives each subject's state of residence and contact
	// details; nil: Plan and RevealContacts fail.
	Resolver Resolver
	// Clock stamps entries and computes overdue notices; nil means
	// clock.System.
	Clock clock.Clock
}

// Manager records incidents and their decisions, each change audited.
type Manager struct {
	cfg Config
}

// New returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, invalid("Config.Store", "required")
	}
	if cfg.Audit == nil {
		return nil, invalid("Config.Audit", "required")
	}
	if cfg.PrivacyOfficerRoles == nil {
		cfg.PrivacyOfficerRoles = []string{RolePrivacyOfficer}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	return &Manager{cfg: cfg}, nil
}

// Now is the manager's clock's current time.
func (m *Manager) Now() time.Time { return m.cfg.Clock.Now() }

// OpenRequest reports an incident.
type OpenRequest struct {
	// DiscoveredOn is the first day the breach was known, or by exercising
	// reasonable diligence would have been known (164.404(a)(2)), as
	// YYYY-MM-DD in TimeZone. Required.
	DiscoveredOn string
	// TimeZone is the IANA zone of the dates and deadlines. Required:
	// calendar days are counted where the entity is, never implicitly.
	TimeZone string
	// Description says what happened, without PHI (CheckText). Required.
	Description string
	// Vector is the suspected vector, a short label such as
	// "stolen_credentials" or "lost_laptop" (optional).
	Vector string
	// Entity is whose breach it is; "" means CoveredEntity.
	Entity EntityKind
}

// Open records a new incident reported by actor.
func (m *Manager) Open(ctx context.Context, actor audit.Actor, r OpenRequest) (Incident, error) {
	if r.Entity == "" {
		r.Entity = CoveredEntity
	}
	want := map[Field]string{FieldStatus: string(StatusOpen), FieldReportedBy: actor.UserID,
		FieldDiscoveredOn: r.DiscoveredOn, FieldTimeZone: r.TimeZone, FieldDescription: r.Description,
		FieldVector: r.Vector, FieldEntity: string(r.Entity)}
	if err := checkFields(want); err != nil {
		return Incident{}, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	day, _ := time.Parse(time.DateOnly, r.DiscoveredOn)
	id := "INC-" + day.Format("20060102") + "-" + strings.ToUpper(hex.EncodeToString(b[:]))
	return m.commit(ctx, actor, Incident{ID: id, Fields: map[Field]string{}}, "open", want)
}

// Get returns an incident's current state.
func (m *Manager) Get(ctx context.Context, id string) (Incident, error) {
	if !ValidID(id) {
		return Incident{}, invalid("incident", "not an incident identifier (INC-...)")
	}
	es, err := m.cfg.Store.Entries(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	return Fold(es)
}

// History returns every change of an incident: who, when, prior and new
// value of each field.
func (m *Manager) History(ctx context.Context, id string) ([]Entry, error) {
	if _, err := m.Get(ctx, id); err != nil {
		return nil, err
	}
	return m.cfg.Store.Entries(ctx, id)
}

// List returns every incident, sorted by identifier.
func (m *Manager) List(ctx context.Context) ([]Incident, error) {
	ids, err := m.cfg.Store.IDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Incident, 0, len(ids))
	for _, id := range ids {
		inc, err := m.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, nil
}

// Updatable are the fields Update may change.
var updatable = []Field{FieldDiscoveredOn, FieldTimeZone, FieldDescription, FieldVector, FieldEntity, FieldDelayUntil, FieldDelayNote}

// Update changes descriptive fields of an open or assessed incident
// (discovery date, time zone, description, vector, entity, and a
// law-enforcement delay under 164.412 with its note). A value of "" clears
// a field. Only a privacy officer may update.
func (m *Manager) Update(ctx context.Context, actor audit.Actor, id string, set map[Field]string) (Incident, error) {
	for f := range set {
		if !slices.Contains(updatable, f) {
			return Incident{}, invalid(string(f), "not changed by Update")
		}
	}
	return m.change(ctx, actor, id, "update", set)
}

// Assessment is the four-factor risk assessment of 164.402(2) and its
// conclusion. Each factor is free text without PHI (CheckText).
type Assessment struct {
	// Nature is the nature and extent of the PHI involved, including the
	// types of identifiers and the likelihood of re-identification.
	Nature string
	// Person is the unauthorized person who used the PHI or to whom it
	// was disclosed.
	Person string
	// Acquired says whether the PHI was actually acquired or viewed.
	Acquired string
	// Mitigation is the extent to which the risk has been mitigated.
	Mitigation string
	// Conclusion is the outcome; Reason explains it (CheckText).
	Conclusion Conclusion
	Reason     string
}

// Assess records the assessment, its author (actor) and sets the status
// to assessed. An assessment may be revised while the incident is open or
// assessed; every revision stays in the history.
func (m *Manager) Assess(ctx context.Context, actor audit.Actor, id string, a Assessment) (Incident, error) {
	if !validConclusion(a.Conclusion) {
		return Incident{}, invalid("conclusion", "unknown conclusion")
	}
	for _, f := range []struct {
		f Field
		v string
	}{{FieldNature, a.Nature}, {FieldPerson, a.Person}, {FieldAcquired, a.Acquired}, {FieldMitigation, a.Mitigation}, {FieldConclusionWhy, a.Reason}} {
		if err := CheckText(string(f.f), f.v); err != nil {
			return Incident{}, err
		}
	}
	return m.change(ctx, actor, id, "assess", map[Field]string{
		FieldNature: a.Nature, FieldPerson: a.Person, FieldAcquired: a.Acquired, FieldMitigation: a.Mitigation,
		FieldConclusion: string(a.Conclusion), FieldConclusionWhy: a.Reason, FieldAssessedBy: actor.UserID,
		FieldStatus: string(StatusAssessed)})
}

// RecordScope records a scope's digest and counts on the incident, so the
// history shows which scope an assessment and the notices relied on.
func (m *Manager) RecordScope(ctx context.Context, actor audit.Actor, id string, s *Scope) (Incident, error) {
	return m.change(ctx, actor, id, "scope", map[Field]string{FieldScopeDigest: s.Digest(),
		FieldAffected: strconv.Itoa(len(s.Affected)), FieldExcluded: strconv.Itoa(len(s.Excluded))})
}

// MarkNotified records that the required notices went out on day
// (YYYY-MM-DD) and sets the status to notified.
func (m *Manager) MarkNotified(ctx context.Context, actor audit.Actor, id, day string) (Incident, error) {
	return m.change(ctx, actor, id, "status", map[Field]string{FieldStatus: string(StatusNotified), FieldNotifiedOn: day})
}

// Close closes an incident: a notified one, or an assessed one whose
// conclusion needs no notice.
func (m *Manager) Close(ctx context.Context, actor audit.Actor, id string) (Incident, error) {
	return m.change(ctx, actor, id, "status", map[Field]string{FieldStatus: string(StatusClosed)})
}

func (m *Manager) isOfficer(a audit.Actor) bool {
	return a.UserID != "" && slices.Contains(m.cfg.PrivacyOfficerRoles, a.Role)
}

func (m *Manager) change(ctx context.Context, actor audit.Actor, id, op string, set map[Field]string) (Incident, error) {
	if !m.isOfficer(actor) {
		return Incident{}, fmt.Errorf("breach: incident %s: %w", safeID(id), ErrForbidden)
	}
	inc, err := m.Get(ctx, id)
	if err != nil {
		return Incident{}, err
	}
	if err := checkFields(set); err != nil {
		return Incident{}, err
	}
	if err := checkTransition(&inc, op, set); err != nil {
		return Incident{}, err
	}
	return m.commit(ctx, actor, inc, op, set)
}

// commit appends the entry that takes inc to set, after auditing it.
func (m *Manager) commit(ctx context.Context, actor audit.Actor, inc Incident, op string, set map[Field]string) (Incident, error) {
	if actor.UserID == "" {
		return Incident{}, invalid("actor", "needs a user identifier")
	}
	e := Entry{Incident: inc.ID, Seq: inc.Version + 1, At: m.cfg.Clock.Now().UTC(), By: actorOf(actor), Op: op}
	for _, f := range knownFields { // fixed order: deterministic entries
		if v, ok := set[f]; ok && v != inc.Fields[f] {
			e.Changes = append(e.Changes, Change{Field: f, Prior: inc.Fields[f], New: v})
		}
	}
	if len(e.Changes) == 0 {
		return inc, nil
	}
	if err := e.validate(); err != nil {
		return Incident{}, err
	}
	names := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		names[i] = string(c.Field)
	}
	ev := audit.Event{Time: e.At, Action: audit.Action("breach." + op), Outcome: audit.OutcomeSuccess, Actor: actor,
		Origin: audit.Origin{Channel: audit.ChannelSystem}, Target: audit.Target{RecordType: RecordType, RecordID: inc.ID},
		Attrs: map[string]string{"fields": strings.Join(names, ","), "seq": strconv.FormatUint(e.Seq, 10)}}
	if err := m.cfg.Audit.Write(ctx, ev); err != nil {
		return Incident{}, fmt.Errorf("%w: incident %s: %w", ErrAudit, inc.ID, err)
	}
	if err := m.cfg.Store.Append(ctx, e); err != nil {
		return Incident{}, fmt.Errorf("breach: incident %s: %w", inc.ID, err)
	}
	if err := inc.apply(&e); err != nil {
		return Incident{}, err
	}
	return inc, nil
}

// checkFields validates the values of set for a change: free text must
// pass CheckText (description always, others unless cleared).
func checkFields(set map[Field]string) error {
	for f, v := range set {
		if isFreeText(f) && (v != "" || f == FieldDescription) {
			if err := CheckText(string(f), v); err != nil {
				return err
			}
		}
		if (f == FieldDiscoveredOn || f == FieldTimeZone || f == FieldEntity) && v == "" {
			return invalid(string(f), "required")
		}
		if err := checkValue(f, v); err != nil {
			return err
		}
	}
	return nil
}

// checkTransition enforces the lifecycle.
func checkTransition(inc *Incident, op string, set map[Field]string) error {
	cur := inc.Status()
	refuse := func(why string) error {
		return fmt.Errorf("breach: incident %s: %s: %w", inc.ID, why, ErrTransition)
	}
	if cur == StatusClosed {
		return refuse("closed incidents do not change")
	}
	switch op {
	case "assess", "scope", "update":
		if cur == StatusNotified && op == "assess" {
			return refuse("notices went out; the assessment is final")
		}
	case "status":
		switch Status(set[FieldStatus]) {
		case StatusNotified:
			if cur != StatusAssessed || !inc.Conclusion().NeedsNotice() {
				return refuse("only an assessed breach is notified")
			}
		case StatusClosed:
			if cur == StatusOpen {
				return refuse("assess the incident before closing it")
			}
			if cur == StatusAssessed && inc.Conclusion().NeedsNotice() {
				return refuse("a breach closes after its notices")
			}
		}
	}
	return nil
}
