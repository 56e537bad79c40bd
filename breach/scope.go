package breach

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// AttrExposure is the audit event attribute that says in which form PHI
// left the system (audit.AttrExposure). Events carrying ExposureSealed
// exposed only sealed values (phi ciphertext, never opened: what
// phi.Vault.ServeSealed records); every other access is taken to have
// exposed plaintext.
const AttrExposure = audit.AttrExposure

// Exposure forms.
const (
	ExposurePlaintext = audit.ExposurePlaintext
	ExposureSealed    = audit.ExposureSealed
)

// Exclusion reasons of a scoped subject.
const (
	// ReasonSecured: every exposure of the subject was of sealed values
	// and neither the KEK nor the subject's keys were compromised: secured
	// PHI under HHS guidance (encryption, NIST SP 800-111), so not a
	// breach of unsecured PHI (164.402).
	ReasonSecured = "sealed_only_keys_not_compromised"
)

// exposureActions are the successful actions that expose a subject's PHI.
var exposureActions = []audit.Action{audit.ActionRead, audit.ActionReveal, audit.ActionExport, audit.ActionDisclose,
	audit.ActionEmergencyAccess, audit.ActionUpdate, audit.ActionCreate, audit.ActionBackup}

// ExposureActions returns the actions Indicators.Actions defaults to: read,
// reveal, export, disclose, emergency_access, update, create and backup.
func ExposureActions() []audit.Action { return slices.Clone(exposureActions) }

// RecordRef names one record.
type RecordRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Indicators say which accesses of the trail belong to the incident. An
// event matches when it is in the window, succeeded, names a subject, is
// one of Actions, and matches every indicator set that is not empty (any
// member of each).
type Indicators struct {
	// Since and Until bound the window (Since inclusive, Until exclusive).
	// Required.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Actors are user identifiers (Actor.UserID), for example the
	// compromised account.
	Actors []string `json:"actors,omitempty"`
	// Sessions are session references (Actor.SessionID).
	Sessions []string `json:"sessions,omitempty"`
	// Networks are client address ranges (Origin.ClientIP).
	Networks []netip.Prefix `json:"networks,omitempty"`
	// Routes are matched route patterns (Origin.Route).
	Routes []string `json:"routes,omitempty"`
	// Records are the records involved (a lost file's contents).
	Records []RecordRef `json:"records,omitempty"`
	// Actions replaces ExposureActions when set.
	Actions []audit.Action `json:"actions,omitempty"`
}

func (in *Indicators) validate() error {
	if in.Since.IsZero() || in.Until.IsZero() || !in.Since.Before(in.Until) {
		return invalid("indicators.window", "needs since before until")
	}
	f := audit.Filter{Since: in.Since, Until: in.Until, Actions: in.Actions}
	if err := f.Validate(); err != nil {
		return invalid("indicators", "not a valid audit filter")
	}
	for _, p := range in.Networks {
		if !p.IsValid() {
			return invalid("indicators.networks", "not a valid prefix")
		}
	}
	return nil
}

func (in *Indicators) match(r *audit.Record, actions []audit.Action) bool {
	e := &r.Event
	if e.Outcome != audit.OutcomeSuccess || e.Target.Subject == "" || !slices.Contains(actions, e.Action) {
		return false
	}
	if len(in.Actors) > 0 && !slices.Contains(in.Actors, e.Actor.UserID) ||
		len(in.Sessions) > 0 && !slices.Contains(in.Sessions, e.Actor.SessionID) ||
		len(in.Routes) > 0 && !slices.Contains(in.Routes, e.Origin.Route) ||
		len(in.Records) > 0 && !slices.Contains(in.Records, RecordRef{e.Target.RecordType, e.Target.RecordID}) {
		return false
	}
	if len(in.Networks) > 0 {
		ip, err := netip.ParseAddr(e.Origin.ClientIP)
		if err != nil {
			return false
		}
		ip = ip.Unmap()
		if !slices.ContainsFunc(in.Networks, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			return false
		}
	}
	return true
}

// ScopeRequest asks which subjects an incident affected.
type ScopeRequest struct {
	// Entries reads the whole audit trail (audit.FileReader.Entries,
	// pgaudit.Store.Entries). Required: Scope verifies what it reads.
	Entries audit.EntrySource
	// Verify are the verification options; Keys is required.
	Verify audit.VerifyOptions
	// Indicators select the incident's accesses.
	Indicators Indicators
	// KEKCompromised says the key-encryption key was exposed: no sealed
	// exposure is then secured.
	KEKCompromised bool
	// CompromisedSubjects are subjects whose own keys were exposed.
	CompromisedSubjects []string
	// Shredded reports whether a subject was crypto-shredded since (for
	// example disposal.Ledger.Lookup); nil: not checked. A shredded
	// subject stays in the scope (the access happened before the shred)
	// and is marked, since its contact details may be gone.
	Shredded func(ctx context.Context, subject string) (bool, error)
}

// Evidence is one audit record behind a subject's scoping.
type Evidence struct {
	Stream     string       `json:"stream"`
	Seq        uint64       `json:"seq"`
	Time       time.Time    `json:"time"`
	Action     audit.Action `json:"action"`
	Actor      string       `json:"actor"`
	Session    string       `json:"session,omitempty"`
	ClientIP   string       `json:"client_ip,omitempty"`
	Route      string       `json:"route,omitempty"`
	RecordType string       `json:"record_type,omitempty"`
	RecordID   string       `json:"record_id,omitempty"`
	Field      string       `json:"field,omitempty"`
	Exposure   string       `json:"exposure"`
}

// Subject is one scoped subject: the data elements accessed, in which
// form, the evidence, and, for an excluded subject, why.
type Subject struct {
	Subject  string     `json:"subject"`
	Elements []string   `json:"elements"` // "record_type.field" (or "record_type"), sorted
	Exposure string     `json:"exposure"` // plaintext when any access exposed plaintext
	Shredded bool       `json:"shredded,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Evidence []Evidence `json:"evidence"`
}

// Scope is the result of scoping: affected and excluded subjects, each
// sorted by identifier, and what was read.
type Scope struct {
	Indicators Indicators `json:"indicators"`
	// RecordsRead is how many verified audit records were examined.
	RecordsRead int64     `json:"records_read"`
	Affected    []Subject `json:"affected"`
	Excluded    []Subject `json:"excluded"`
}

// Digest is the hex SHA-256 of the scope's JSON encoding (which is
// deterministic), recorded on the incident by Manager.RecordScope.
func (s *Scope) Digest() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ComputeScope reads the trail through a verifier and returns the subjects
// the indicators' accesses touched. A trail that fails verification yields
// ErrTrailUnverified wrapping the *audit.VerifyError, never a scope.
func ComputeScope(ctx context.Context, r ScopeRequest) (*Scope, error) {
	if r.Entries == nil {
		return nil, invalid("ScopeRequest.Entries", "required")
	}
	if r.Verify.Keys.Len() == 0 {
		return nil, invalid("ScopeRequest.Verify.Keys", "required: the trail is verified before it is trusted")
	}
	in := r.Indicators
	if err := in.validate(); err != nil {
		return nil, err
	}
	actions := in.Actions
	if len(actions) == 0 {
		actions = exposureActions
	}
	f := audit.Filter{Since: in.Since, Until: in.Until, Outcome: audit.OutcomeSuccess, Actions: actions}
	if len(in.Actors) == 1 {
		f.ActorID = in.Actors[0]
	}
	by := map[string]*Subject{}
	sc := &Scope{Indicators: in}
	for rec, err := range audit.VerifiedSearcher(r.Entries, r.Verify).Search(ctx, f) {
		if err != nil {
			var ve *audit.VerifyError
			if errors.As(err, &ve) {
				return nil, fmt.Errorf("%w: %w", ErrTrailUnverified, err)
			}
			return nil, fmt.Errorf("breach: read the audit trail: %w", err)
		}
		sc.RecordsRead++
		if !in.match(&rec, actions) {
			continue
		}
		e := &rec.Event
		s := by[e.Target.Subject]
		if s == nil {
			s = &Subject{Subject: e.Target.Subject, Exposure: ExposureSealed}
			by[e.Target.Subject] = s
		}
		exp := ExposurePlaintext
		if e.Attrs[AttrExposure] == ExposureSealed && e.Action != audit.ActionReveal {
			exp = ExposureSealed
		}
		if exp == ExposurePlaintext {
			s.Exposure = ExposurePlaintext
		}
		el := e.Target.RecordType
		if e.Target.Field != "" {
			el += "." + e.Target.Field
		}
		if el != "" && !slices.Contains(s.Elements, el) {
			s.Elements = append(s.Elements, el)
		}
		s.Evidence = append(s.Evidence, Evidence{Stream: rec.Stream, Seq: rec.Seq, Time: e.Time.UTC(), Action: e.Action,
			Actor: e.Actor.UserID, Session: e.Actor.SessionID, ClientIP: e.Origin.ClientIP, Route: e.Origin.Route,
			RecordType: e.Target.RecordType, RecordID: e.Target.RecordID, Field: e.Target.Field, Exposure: exp})
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	sc.Affected, sc.Excluded = []Subject{}, []Subject{}
	for _, id := range ids {
		s := by[id]
		slices.Sort(s.Elements)
		if s.Elements == nil {
			s.Elements = []string{}
		}
		slices.SortFunc(s.Evidence, compareEvidence)
		if r.Shredded != nil {
			shredded, err := r.Shredded(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("breach: check shredded subjects: %w", err)
			}
			s.Shredded = shredded
		}
		if s.Exposure == ExposureSealed && !r.KEKCompromised && !slices.Contains(r.CompromisedSubjects, id) {
			s.Reason = ReasonSecured
			sc.Excluded = append(sc.Excluded, *s)
			continue
		}
		sc.Affected = append(sc.Affected, *s)
	}
	return sc, nil
}

func compareEvidence(a, b Evidence) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Stream, b.Stream); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}
