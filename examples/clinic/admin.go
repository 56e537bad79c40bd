package main

import (
	"context"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/deid"
	"github.com/hipaakit/hipaakit/retention"
)

func principalID(r *http.Request) string {
	if p, ok := auth.PrincipalFromContext(r.Context()); ok {
		return p.UserID
	}
	return ""
}

// shredPatient: POST /api/patients/{id}/shred {"reason": ...} crypto-shreds
// the patient and answers with the signed disposal certificate.
func (c *clinic) shredPatient(w http.ResponseWriter, r *http.Request) {
	var in struct{ Reason string }
	if !readJSON(w, r, &in) {
		return
	}
	p, ok := c.loadPatient(w, r)
	if !ok {
		return
	}
	opts := []disposal.ShredOption{disposal.Via(audit.Origin{Channel: audit.ChannelAPI, ClientIP: audit.PeerIP(r), Route: r.Pattern})}
	if a, ok := auth.ActorFromRequest(r); ok {
		opts = append(opts, disposal.By(a))
	}
	res, err := c.shredder.Shred(r.Context(), p.ID, in.Reason, opts...)
	switch {
	case errors.Is(err, disposal.ErrLegalHold):
		apiError(w, http.StatusConflict, "legal_hold")
		return
	case errors.Is(err, disposal.ErrInvalidReason):
		apiError(w, http.StatusBadRequest, "reason_required")
		return
	case err != nil:
		c.log.ErrorContext(r.Context(), "shred", "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	// The blind index of the MRN is derived from PHI: a shredded patient
	// must not stay findable (or block the MRN) through it.
	if err := c.forgetMRN(r.Context(), p.ID); err != nil {
		c.log.ErrorContext(r.Context(), "clear the MRN index of a shredded patient", "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificate": string(res.Signed), "repeated": res.Repeated})
}

// setHold: POST /api/patients/{id}/hold {"reason": ...}
func (c *clinic) setHold(w http.ResponseWriter, r *http.Request) {
	var in struct{ Reason string }
	if !readJSON(w, r, &in) {
		return
	}
	p, ok := c.loadPatient(w, r)
	if !ok {
		return
	}
	h, err := c.holds.Set(r.Context(), retention.HoldRequest{Subject: p.ID, Reason: in.Reason, SetBy: principalID(r)})
	switch {
	case errors.Is(err, retention.ErrInvalidHold):
		apiError(w, http.StatusBadRequest, "invalid_hold")
		return
	case err != nil && h.ID != "":
		// The hold is in force but its audit event is missing: say so, with
		// its ID, rather than invite a retry that would set a second hold.
		c.log.ErrorContext(r.Context(), "legal hold set but not audited", "hold", h.ID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "audit_unavailable", "hold_id": h.ID})
		return
	case err != nil:
		c.log.ErrorContext(r.Context(), "set legal hold", "err", err)
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	writeJSON(w, http.StatusCreated, h)
}

// liftHold: DELETE /api/holds/{hold} {"reason": ...} (the reason in the
// body, never in the URL).
func (c *clinic) liftHold(w http.ResponseWriter, r *http.Request) {
	var in struct{ Reason string }
	if !readJSON(w, r, &in) {
		return
	}
	h, err := c.holds.Lift(r.Context(), r.PathValue("hold"), principalID(r), in.Reason)
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_hold")
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// listHolds: GET /api/holds
func (c *clinic) listHolds(w http.ResponseWriter, r *http.Request) {
	hs, err := c.holds.List(r.Context())
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	writeJSON(w, http.StatusOK, hs)
}

// searcher reads the audit trail for queries.
func (a *app) searcher() audit.Searcher { return a.d.Audit }

// auditQuery: GET /api/audit?subject=&actor=&action=&outcome=&since=&until=&after=&limit=
// Filter values match literally; the answer holds identifiers and sealed
// bytes only, never PHI values.
func (a *app) auditQuery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := audit.Filter{Subject: q.Get("subject"), ActorID: q.Get("actor"), RecordType: q.Get("record_type"),
		RecordID: q.Get("record_id"), Outcome: audit.Outcome(q.Get("outcome"))}
	for _, act := range q["action"] {
		f.Actions = append(f.Actions, audit.Action(act))
	}
	var err error
	if f.Since, err = optTime(q.Get("since")); err == nil {
		f.Until, err = optTime(q.Get("until"))
	}
	if err == nil && q.Get("after") != "" {
		f.After, err = audit.ParseCursor(q.Get("after"))
	}
	if err == nil && q.Get("limit") != "" {
		f.Limit, err = strconv.Atoi(q.Get("limit"))
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_filter")
		return
	}
	page, err := audit.Query(r.Context(), a.searcher(), f)
	if errors.Is(err, audit.ErrInvalidFilter) {
		apiError(w, http.StatusBadRequest, "invalid_filter")
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	out := struct {
		Events []audit.Event `json:"events"`
		Next   string        `json:"next,omitempty"`
	}{Events: make([]audit.Event, 0, len(page.Records))}
	for _, rec := range page.Records {
		out.Events = append(out.Events, rec.Event)
	}
	if !page.Next.IsZero() {
		out.Next = page.Next.String()
	}
	writeJSON(w, http.StatusOK, out)
}

func optTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

// disclosures: GET /api/patients/{id}/disclosures — the accounting of
// disclosures for one patient (45 CFR 164.528).
func (a *app) disclosures(w http.ResponseWriter, r *http.Request) {
	acc, err := audit.AccountingOfDisclosures(r.Context(), a.searcher(),
		audit.AccountingRequest{Subject: r.PathValue("id"), Now: a.clock.Now()})
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	writeJSON(w, http.StatusOK, acc)
}

// deidSchema classifies every field of a patient for Safe Harbor export.
var deidSchema = deid.Schema{
	"mrn": deid.Remove(deid.MedicalRecord), "name": deid.Remove(deid.Name), "dob": deid.BirthDateToYear(),
	"zip": deid.ZIP3(), "phone": deid.Remove(deid.Telephone), "email": deid.Remove(deid.Email),
	"address": deid.Remove(deid.Geographic),
}

// exportDeidentified: POST /api/export/deidentified {"ids": [...]} returns
// the cohort de-identified by Safe Harbor. Each value is revealed through
// the vault's audited path with the purpose "research".
func (c *clinic) exportDeidentified(w http.ResponseWriter, r *http.Request) {
	var in struct{ IDs []string }
	if !readJSON(w, r, &in) {
		return
	}
	if len(in.IDs) == 0 || len(in.IDs) > 1000 {
		apiError(w, http.StatusBadRequest, "invalid_cohort")
		return
	}
	ctx := r.Context()
	var out []map[string]string
	for _, id := range in.IDs {
		p, err := c.records.Get(ctx, id)
		if err != nil {
			apiError(w, http.StatusNotFound, "not_found")
			return
		}
		plain := map[string]string{}
		for f, s := range p.Fields {
			v, err := c.vault.Reveal(ctx, binding(p, f, ""), s, phi.Purpose("research"))
			if errors.Is(err, phi.ErrShredded) {
				plain = nil
				break
			}
			if err != nil {
				c.openErr(w, r, err)
				return
			}
			plain[f] = string(v)
		}
		if plain == nil {
			continue // a disposed-of patient has nothing left to export
		}
		d, _, err := deid.Deidentify(plain, deidSchema, deid.Options{Now: c.now()})
		if err != nil {
			apiError(w, http.StatusUnprocessableEntity, "cannot_deidentify")
			return
		}
		out = append(out, d)
	}
	// Rows come back in random order, so a row cannot be tied to the ID
	// the caller listed in the same position.
	mrand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	e := audit.Event{Action: audit.ActionExport, Target: audit.Target{RecordType: "cohort"},
		Attrs: map[string]string{"method": "safe_harbor", "patients": strconv.Itoa(len(out))}}
	if !c.record(w, r, e) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"method": "HIPAA Safe Harbor (45 CFR 164.514(b)(2))",
		"row_order": "random", "records": out})
}

// createBackup: POST /api/backups backs up the whole deployment as one set
// (records, keys, audit trail, users, holds, disposal ledger, emergency log, breach incidents,
// trusted public keys).
func (a *app) createBackup(w http.ResponseWriter, r *http.Request) {
	set, err := a.d.BackupSet(r.Context())
	if err != nil {
		a.log.ErrorContext(r.Context(), "backup", "err", err)
		apiError(w, http.StatusInternalServerError, "backup_failed")
		return
	}
	ids := make([]string, 0, len(set.Members))
	for _, m := range set.Members {
		ids = append(ids, m.ID)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"set": set.ID, "backups": ids, "covers": set.Covered()})
}

// listBackups: GET /api/backups
func (a *app) listBackups(w http.ResponseWriter, r *http.Request) {
	infos, err := a.d.Backups.List(r.Context())
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	writeJSON(w, http.StatusOK, infos)
}

// verifyBackup: POST /api/backups/{backup}/verify re-reads and authenticates
// every byte of one backup.
func (a *app) verifyBackup(w http.ResponseWriter, r *http.Request) {
	rep, err := a.d.Backups.Verify(r.Context(), r.PathValue("backup"), backup.VerifyOptions{})
	var verr *backup.VerifyError
	switch {
	case errors.Is(err, backup.ErrNotFound) && !errors.As(err, &verr), errors.Is(err, backup.ErrInvalidName):
		apiError(w, http.StatusNotFound, "not_found")
		return
	case err != nil && !errors.As(err, &verr):
		a.log.ErrorContext(r.Context(), "verify backup", "err", err)
		apiError(w, http.StatusInternalServerError, "verify_failed")
		return
	}
	problems := make([]string, 0, len(rep.Problems))
	for _, p := range rep.Problems {
		problems = append(problems, p.Object)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": err == nil, "chunks": rep.Checked, "bytes": rep.Bytes, "problems": problems})
}

// drillBackup: POST /api/backups/drill restores every member of the newest
// backup set into scratch space and compares it with its manifest.
func (a *app) drillBackup(w http.ResponseWriter, r *http.Request) {
	results, err := a.d.DrillSet(r.Context(), "")
	if err != nil {
		apiError(w, http.StatusConflict, "no_backup_to_drill")
		return
	}
	var reports []map[string]any
	pass := true
	for _, res := range results {
		rep, ok := res.Report, res.Err == nil && res.Report.Pass
		pass = pass && ok
		reports = append(reports, map[string]any{"id": rep.ID, "kind": res.Kind, "covers": res.Covers, "pass": ok,
			"rto_ms": rep.RTO.Milliseconds(), "rpo_s": int64(rep.RPO.Seconds()), "mismatches": rep.Mismatches})
	}
	writeJSON(w, http.StatusOK, map[string]any{"pass": pass, "drills": reports})
}

// userView is what the administrator sees of a user: identifiers, roles and
// status, never credentials or PHI.
type userView struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Status string   `json:"status"`
	Admin  bool     `json:"admin"`
	MFA    bool     `json:"mfa"`
	Locked bool     `json:"locked"`
}

// listUsers: GET /api/admin/users — the users of the administrator's tenant.
func (a *app) listUsers(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFromContext(r.Context())
	us, err := a.d.Users.List(r.Context(), p.TenantID)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "internal")
		return
	}
	out := make([]userView, 0, len(us))
	for _, u := range us {
		out = append(out, userView{ID: u.ID, Name: u.Name, Roles: u.Roles, Status: string(u.Status), Admin: u.Admin,
			MFA: u.MFA.Enabled(), Locked: !u.Lockout.LockedAt.IsZero()})
	}
	writeJSON(w, http.StatusOK, out)
}

// forgetMRN replaces a shredded patient's MRN blind index with random bytes
// that match no MRN, so the patient cannot be found by MRN and the MRN can
// be given to a new record.
func (c *clinic) forgetMRN(ctx context.Context, id string) error {
	for range 3 {
		p, err := c.records.Get(ctx, id)
		if err != nil {
			return err
		}
		p.MRNIndex = make([]byte, 32)
		if _, err := rand.Read(p.MRNIndex); err != nil {
			return err
		}
		if err := c.records.Put(ctx, p, p.Version); !errors.Is(err, errConflict) {
			return err
		}
	}
	return errConflict
}
