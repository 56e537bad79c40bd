package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/retention"
)

// clinic holds the service's parts; its methods are the JSON API.
type clinic struct {
	vault   *phi.Vault
	records recordStore
	audit   audit.Writer
	guard   *auth.Service
	now     func() time.Time
	log     *slog.Logger
	tenant  string

	shredder *disposal.Shredder
	holds    *retention.Registry
}

const maxBody = 64 << 10

// apiError is the only error body the API sends: a fixed code, never input.
func apiError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readJSON decodes one JSON object of at most maxBody bytes with no unknown
// fields and nothing after it; anything else is answered with 400 (415 for
// another content type, 413 for a body too large).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		apiError(w, http.StatusUnsupportedMediaType, "json_required")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apiError(w, http.StatusRequestEntityTooLarge, "body_too_large")
		return false
	case err != nil:
		apiError(w, http.StatusBadRequest, "malformed_request")
		return false
	}
	return true
}

// record writes one audit event for the request. It returns false (and has
// answered 503) when the event cannot be stored: no audit, no access.
func (c *clinic) record(w http.ResponseWriter, r *http.Request, e audit.Event) bool {
	if a, ok := auth.ActorFromRequest(r); ok {
		e.Actor = a
	}
	e.Origin.Route = r.Pattern
	if e.Outcome == "" {
		e.Outcome = audit.OutcomeSuccess
	}
	if e.Time.IsZero() {
		e.Time = c.now().UTC()
	}
	if err := c.audit.Write(r.Context(), e); err != nil {
		c.log.ErrorContext(r.Context(), "audit write failed; request refused", "route", r.Pattern, "err", err)
		apiError(w, http.StatusServiceUnavailable, "audit_unavailable")
		return false
	}
	return true
}

func fieldEvent(action audit.Action, id, field string) audit.Event {
	return audit.Event{Action: action, Target: audit.Target{RecordType: "patient", RecordID: id, Field: field, Subject: id}}
}

func binding(p patient, field, record string) phi.Binding {
	if record == "" {
		record = p.ID
	}
	return phi.Binding{Subject: p.ID, Field: field, Tenant: p.Tenant, Record: record}
}

// loadPatient reads the record named by the {id} path value, answering 404
// for an unknown or malformed ID.
func (c *clinic) loadPatient(w http.ResponseWriter, r *http.Request) (patient, bool) {
	p, err := c.records.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNoPatient) {
		apiError(w, http.StatusNotFound, "not_found")
		return patient{}, false
	}
	if err != nil {
		c.log.ErrorContext(r.Context(), "read record", "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
		return patient{}, false
	}
	return p, true
}

// openErr answers for an Open failure: 410 for a shredded patient.
func (c *clinic) openErr(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, phi.ErrShredded) {
		apiError(w, http.StatusGone, "patient_disposed")
		return
	}
	if errors.Is(err, phi.ErrAuditFailed) {
		apiError(w, http.StatusServiceUnavailable, "audit_unavailable")
		return
	}
	c.log.ErrorContext(r.Context(), "open sealed value", "err", err)
	apiError(w, http.StatusInternalServerError, "internal")
}

type patientIn map[string]string

// validFields checks that every key is a known demographic field.
func (in patientIn) valid() bool {
	for k, v := range in {
		if !isDemographic(k) || len(v) > 512 || (k == "mrn" && (v == "" || len(v) > maxMRN)) {
			return false
		}
	}
	return true
}

// maxMRN bounds an MRN, the same on write as on search.
const maxMRN = 64

// createPatient: POST /api/patients {"mrn": ..., "name": ..., ...}
func (c *clinic) createPatient(w http.ResponseWriter, r *http.Request) {
	var in patientIn
	if !readJSON(w, r, &in) {
		return
	}
	if !in.valid() || in["mrn"] == "" {
		apiError(w, http.StatusBadRequest, "invalid_fields")
		return
	}
	actor, _ := auth.ActorFromRequest(r)
	id, err := c.create(r.Context(), in, actor, audit.Origin{Route: r.Pattern})
	switch {
	case errors.Is(err, errInvalidMRN):
		apiError(w, http.StatusBadRequest, "invalid_mrn")
	case errors.Is(err, errAudit):
		apiError(w, http.StatusServiceUnavailable, "audit_unavailable")
	case err != nil:
		c.failWrite(w, r, []audit.Event{fieldEvent(audit.ActionCreate, id, "")}, err)
	default:
		writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	}
}

var (
	errInvalidMRN = errors.New("clinic: invalid MRN")
	errAudit      = errors.New("clinic: audit trail unavailable")
)

// create seals every field under a new patient's key, stores the record
// and then audits each field's creation with its sealed value: the events
// tell what happened. A taken MRN is refused before anything is sealed;
// when the store refuses the record all the same (another request took the
// MRN first) or a seal fails, the new patient's keys are destroyed, so a
// failed create leaves no keyset behind. When the trail refuses an event,
// the record is removed again and its keys destroyed (no audit, no change).
func (c *clinic) create(ctx context.Context, in patientIn, actor audit.Actor, origin audit.Origin) (string, error) {
	idx, err := c.vault.BlindIndex(ctx, "mrn", []byte(in["mrn"]))
	if err != nil {
		return "", errInvalidMRN
	}
	switch _, err := c.records.FindByMRN(ctx, idx); {
	case err == nil:
		return "", errMRNTaken
	case !errors.Is(err, errNoPatient):
		return "", err
	}
	now := c.now().UTC()
	p := patient{ID: newID("p"), Tenant: c.tenant, MRNIndex: idx, Fields: map[string][]byte{}, Created: now, Updated: now,
		CollectedBy: actor.UserID}
	fields := slices.Sorted(maps.Keys(in))
	for _, f := range fields {
		s, err := c.vault.Seal(ctx, binding(p, f, ""), []byte(in[f]))
		if err != nil {
			c.discardKeys(ctx, p.ID)
			return "", err
		}
		p.Fields[f] = s
	}
	if err := c.records.Put(ctx, p, 0); err != nil {
		c.discardKeys(ctx, p.ID)
		return "", err
	}
	for _, f := range fields {
		e := fieldEvent(audit.ActionCreate, p.ID, f)
		e.Actor, e.Origin, e.Time, e.Outcome = actor, origin, now, audit.OutcomeSuccess
		e.Change = &audit.Change{New: p.Fields[f]}
		if err := c.audit.Write(ctx, e); err != nil {
			c.log.ErrorContext(ctx, "audit write failed; create undone", "err", err)
			if err := c.records.Delete(ctx, p.ID, 1); err != nil {
				c.log.ErrorContext(ctx, "undo an unaudited create", "err", err)
			}
			c.discardKeys(ctx, p.ID)
			return "", errAudit
		}
	}
	return p.ID, nil
}

// discardKeys destroys the keys of a patient that was never stored (the
// Vault records the shred).
func (c *clinic) discardKeys(ctx context.Context, id string) {
	if _, err := c.vault.Shred(ctx, id); err != nil {
		c.log.ErrorContext(ctx, "destroy the keys of a failed create", "err", err)
	}
}

// failWrite audits a request whose write did not happen, as the changes it
// attempted (each event's action, record and field, without values) with
// outcome failure and the reason, and answers it.
func (c *clinic) failWrite(w http.ResponseWriter, r *http.Request, attempted []audit.Event, err error) {
	reason, status := "write_failed", http.StatusInternalServerError
	switch {
	case errors.Is(err, errConflict):
		reason, status = "conflict", http.StatusConflict
	case errors.Is(err, errMRNTaken):
		reason, status = "mrn_exists", http.StatusConflict
	}
	for _, e := range attempted {
		e.Outcome, e.Reason, e.Change = audit.OutcomeFailure, reason, nil
		if !c.record(w, r, e) {
			return
		}
	}
	if status == http.StatusInternalServerError {
		c.log.ErrorContext(r.Context(), "write record", "err", err)
		apiError(w, status, "internal")
		return
	}
	apiError(w, status, reason)
}

// writeChanges records the events of a stored change. When one cannot be
// recorded it restores undo (the record as it was, over the version just
// written), answers 503 and returns false: no audit, no change.
func (c *clinic) writeChanges(w http.ResponseWriter, r *http.Request, events []audit.Event, undo patient, written int64) bool {
	for _, e := range events {
		if !c.record(w, r, e) {
			if err := c.records.Put(r.Context(), undo, written); err != nil {
				c.log.ErrorContext(r.Context(), "undo an unaudited change", "err", err)
			}
			return false
		}
	}
	return true
}

// routeActions are the routes the audit middleware records with another
// action than their method's: searches are queries, the history reveal a
// read, the de-identified export an export.
var routeActions = map[string]audit.Action{
	"POST /api/patients/search":              audit.ActionQuery,
	"POST /audit":                            audit.ActionQuery,
	"POST /api/patients/{id}/history/reveal": audit.ActionRead,
	"POST /api/export/deidentified":          audit.ActionExport,
}

// searchPatient: POST /api/patients/search {"mrn": ...}. The MRN travels in
// the body, never in the URL, and is looked up through its blind index.
func (c *clinic) searchPatient(w http.ResponseWriter, r *http.Request) {
	var in struct{ MRN string }
	if !readJSON(w, r, &in) {
		return
	}
	id, err := c.findByMRN(r.Context(), in.MRN)
	if errors.Is(err, errNoPatient) {
		apiError(w, http.StatusNotFound, "not_found")
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	if !c.record(w, r, mrnLookupEvent(id)) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

// mrnLookupEvent is the event of an MRN search that found patient id: a
// query through the blind index (it tells that the MRN is the patient's;
// it reads no other field).
func mrnLookupEvent(id string) audit.Event {
	e := fieldEvent(audit.ActionQuery, id, "mrn")
	e.Attrs = map[string]string{"lookup": "blind_index"}
	return e
}

func (c *clinic) findByMRN(ctx context.Context, mrn string) (string, error) {
	if mrn == "" || len(mrn) > maxMRN {
		return "", errNoPatient
	}
	idx, err := c.vault.BlindIndex(ctx, "mrn", []byte(mrn))
	if err != nil {
		return "", errNoPatient
	}
	return c.records.FindByMRN(ctx, idx)
}

// visibleFields returns the fields the request's principal may read:
// everything with clinical:read, demographics with demographics:read.
func (c *clinic) visibleFields(r *http.Request) (fields []string, clinical bool) {
	if c.guard.Can(r, permClinicalRead) {
		return demographicFields, true
	}
	if c.guard.Can(r, permDemoRead) {
		return demographicFields, false
	}
	return nil, false
}

// patientView is what a read returns; absent fields are not permitted.
type patientView struct {
	ID     string            `json:"id"`
	Fields map[string]string `json:"fields"`
	Notes  []string          `json:"notes,omitempty"`
	Labs   []string          `json:"labs,omitempty"`
	Vitals []string          `json:"vitals,omitempty"`
}

// readPatient opens the fields the principal may see, audits each one, and
// only then returns them.
func (c *clinic) readPatient(ctx context.Context, w http.ResponseWriter, r *http.Request, p patient) (patientView, bool) {
	fields, clinical := c.visibleFields(r)
	v := patientView{ID: p.ID, Fields: map[string]string{}}
	var events []audit.Event
	for _, f := range fields {
		s, ok := p.Fields[f]
		if !ok {
			continue
		}
		pt, err := c.vault.Open(ctx, binding(p, f, ""), s)
		if err != nil {
			c.openErr(w, r, err)
			return v, false
		}
		v.Fields[f] = string(pt.Reveal())
		events = append(events, fieldEvent(audit.ActionRead, p.ID, f))
	}
	if clinical {
		for _, set := range []struct {
			field string
			in    []entry
			out   *[]string
		}{{"note", p.Notes, &v.Notes}, {"lab", p.Labs, &v.Labs}, {"vitals", p.Vitals, &v.Vitals}} {
			for _, e := range set.in {
				pt, err := c.vault.Open(ctx, binding(p, set.field, e.ID), e.Value)
				if err != nil {
					c.openErr(w, r, err)
					return v, false
				}
				*set.out = append(*set.out, string(pt.Reveal()))
				ev := fieldEvent(audit.ActionRead, p.ID, set.field)
				ev.Target.RecordID = e.ID
				events = append(events, ev)
			}
		}
	}
	for _, e := range events {
		if !c.record(w, r, e) {
			return v, false
		}
	}
	return v, true
}

// getPatient: GET /api/patients/{id}
func (c *clinic) getPatient(w http.ResponseWriter, r *http.Request) {
	p, ok := c.loadPatient(w, r)
	if !ok {
		return
	}
	v, ok := c.readPatient(r.Context(), w, r, p)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// updatePatient: PUT /api/patients/{id} with the fields to change. The
// record is stored, then each change is audited with the new and the prior
// value, both sealed; a refused write is audited per field as a failure.
func (c *clinic) updatePatient(w http.ResponseWriter, r *http.Request) {
	var in patientIn
	if !readJSON(w, r, &in) {
		return
	}
	if !in.valid() {
		apiError(w, http.StatusBadRequest, "invalid_fields")
		return
	}
	p, ok := c.loadPatient(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	prev := p.Version
	orig := p
	orig.Fields = maps.Clone(p.Fields)
	var events []audit.Event
	for _, f := range slices.Sorted(maps.Keys(in)) {
		s, err := c.vault.Seal(ctx, binding(p, f, ""), []byte(in[f]))
		if err != nil {
			c.openErr(w, r, err)
			return
		}
		e := fieldEvent(audit.ActionUpdate, p.ID, f)
		e.Change = &audit.Change{New: s, Prior: p.Fields[f]}
		events = append(events, e)
		p.Fields[f] = s
		if f == "mrn" {
			if p.MRNIndex, err = c.vault.BlindIndex(ctx, "mrn", []byte(in[f])); err != nil {
				apiError(w, http.StatusBadRequest, "invalid_mrn")
				return
			}
		}
	}
	p.Updated = c.now().UTC()
	if err := c.records.Put(ctx, p, prev); err != nil {
		c.failWrite(w, r, events, err)
		return
	}
	if !c.writeChanges(w, r, events, orig, prev+1) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": p.ID})
}

// addEntry handles POST /api/patients/{id}/{notes,labs,vitals}.
func (c *clinic) addEntry(field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Value string }
		if !readJSON(w, r, &in) {
			return
		}
		if in.Value == "" || len(in.Value) > 4096 {
			apiError(w, http.StatusBadRequest, "invalid_value")
			return
		}
		p, ok := c.loadPatient(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		e := entry{ID: newID("e"), Time: c.now().UTC()}
		if pr, ok := auth.PrincipalFromContext(ctx); ok {
			e.Author = pr.UserID
		}
		s, err := c.vault.Seal(ctx, binding(p, field, e.ID), []byte(in.Value))
		if err != nil {
			c.openErr(w, r, err)
			return
		}
		e.Value = s
		orig := p
		switch field {
		case "note":
			p.Notes = append(p.Notes, e)
		case "lab":
			p.Labs = append(p.Labs, e)
		default:
			p.Vitals = append(p.Vitals, e)
		}
		ev := fieldEvent(audit.ActionCreate, p.ID, field)
		ev.Target.RecordID = e.ID
		if err := c.records.Put(ctx, p, p.Version); err != nil {
			c.failWrite(w, r, []audit.Event{ev}, err)
			return
		}
		ev.Change = &audit.Change{New: s}
		if !c.writeChanges(w, r, []audit.Event{ev}, orig, p.Version+1) {
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": e.ID})
	}
}
