package main

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// The auditor's pages: the trail searched by patient (an MRN resolved
// through the blind index, or the patient ID), by user name, time range,
// action and outcome, page by page; the export of the same search as CSV
// or JSON Lines, read through the verifying searcher; the accounting of
// disclosures; the break-glass review. Events hold identifiers and sealed
// bytes only: these pages show no PHI.

const auditPageSize = 100

// auditActions are the actions offered in the search form.
var auditActions = []audit.Action{audit.ActionCreate, audit.ActionRead, audit.ActionQuery, audit.ActionUpdate, audit.ActionDelete,
	audit.ActionExport, audit.ActionDisclose, audit.ActionReveal, audit.ActionLogin, audit.ActionLoginFailed,
	audit.ActionLogout, audit.ActionSessionTimeout, audit.ActionMFAEnrolled, audit.ActionMFAFailed,
	audit.ActionPermissionDenied, audit.ActionRoleChanged, audit.ActionUserChanged, audit.ActionLockout,
	audit.ActionEmergencyAccess, audit.ActionShred, audit.ActionLegalHold, audit.ActionBackup, audit.ActionRestoreDrill}

// auditSearch is the search form's state, kept in the URL (identifiers
// and names only: an MRN is posted and resolved to the patient ID).
type auditSearch struct {
	Subject, User, Action, Outcome, Since, Until string
	NoSuchUser                                   bool
}

func (s auditSearch) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"subject": s.Subject, "user": s.User, "action": s.Action, "outcome": s.Outcome,
		"since": s.Since, "until": s.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// datetime-local values, read as UTC.
const formTime = "2006-01-02T15:04"

// filter turns the search into an audit.Filter; the user name is resolved
// to the user's ID in the searcher's tenant.
func (a *app) filter(r *http.Request, s *auditSearch) (audit.Filter, error) {
	f := audit.Filter{Subject: s.Subject, Outcome: audit.Outcome(s.Outcome)}
	if s.Action != "" {
		f.Actions = []audit.Action{audit.Action(s.Action)}
	}
	if s.User != "" {
		p, _ := auth.PrincipalFromContext(r.Context())
		name, err := auth.CanonicalName(s.User)
		var u *auth.User
		if err == nil {
			u, err = a.d.Users.GetByName(r.Context(), p.TenantID, name)
		}
		if err != nil {
			// A name that is no user matches nothing (and says so), rather
			// than silently listing everyone.
			s.NoSuchUser = true
			f.ActorID = "-" // no user ID has this form
		} else {
			f.ActorID = u.ID
		}
	}
	for _, t := range []struct {
		in  string
		out *time.Time
	}{{s.Since, &f.Since}, {s.Until, &f.Until}} {
		if t.in == "" {
			continue
		}
		v, err := time.Parse(formTime, t.in)
		if err != nil {
			return f, audit.ErrInvalidFilter
		}
		*t.out = v
	}
	return f, f.Validate()
}

func readSearch(q url.Values) auditSearch {
	return auditSearch{Subject: validPatientID(q.Get("subject")), User: q.Get("user"), Action: q.Get("action"),
		Outcome: q.Get("outcome"), Since: q.Get("since"), Until: q.Get("until")}
}

// auditRow is one event as the page shows it: the actor's name beside
// the ID.
type auditRow struct {
	audit.Event
	ActorName string
}

// auditPage is what the audit page shows.
type auditPage struct {
	Search       auditSearch
	Actions      []audit.Action
	Rows         []auditRow
	Next, Export string
}

// pageAudit: GET /audit?subject=&user=&action=&outcome=&since=&until=&after=
func (a *app) pageAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := readSearch(q)
	f, err := a.filter(r, &s)
	if err == nil && q.Get("after") != "" {
		f.After, err = audit.ParseCursor(q.Get("after"))
	}
	data := auditPage{Search: s, Actions: auditActions}
	if err != nil {
		a.render(w, r, http.StatusBadRequest, "audit", "Audit trail", data, "Check the search: the times must be valid and the start before the end.")
		return
	}
	// Newest first: the page is for recent activity; the export (same
	// search, without this) keeps chain order so that it verifies.
	f.Limit, f.Descending = auditPageSize, true
	page, err := audit.Query(r.Context(), a.searcher(), f)
	if err != nil {
		a.log.ErrorContext(r.Context(), "audit page", "err", err)
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	names := a.names(r.Context())
	for _, rec := range page.Records {
		data.Rows = append(data.Rows, auditRow{Event: rec.Event, ActorName: names(rec.Event.Actor.UserID)})
	}
	if !page.Next.IsZero() {
		nq := s.query()
		nq.Set("after", page.Next.String())
		data.Next = "/audit?" + nq.Encode()
	}
	data.Export = s.query().Encode()
	flash := ""
	if s.NoSuchUser {
		flash = "There is no user with that name."
	}
	a.render(w, r, 0, "audit", "Audit trail", data, flash)
}

// pageAuditByMRN: POST /audit {mrn} resolves the MRN through the blind
// index (audited like any MRN lookup) and opens the patient's events.
func (a *app) pageAuditByMRN(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil { // csrf_token checked by the session middleware
		a.errorPage(w, r, http.StatusBadRequest, "bad_request")
		return
	}
	id, err := a.clinic.findByMRN(r.Context(), r.PostFormValue("mrn"))
	if errors.Is(err, errNoPatient) {
		a.render(w, r, http.StatusNotFound, "audit", "Audit trail", auditPage{Actions: auditActions}, "No patient with that MRN.")
		return
	}
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	e := fieldEvent(audit.ActionRead, id, "mrn")
	e.Attrs = map[string]string{"lookup": "blind_index", "purpose": "audit"}
	if !a.clinic.record(w, r, e) {
		return
	}
	http.Redirect(w, r, "/audit?subject="+id, http.StatusSeeOther)
}

// auditExport: GET /audit/export?format=csv|jsonl&<search> downloads every
// event of the search, read through the verifying searcher: a trail that
// does not verify fails the export instead of handing out tampered
// records. The export is itself audited once written.
func (a *app) auditExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := readSearch(q)
	f, err := a.filter(r, &s)
	format := audit.ExportFormat(q.Get("format"))
	if err != nil || (format != audit.ExportCSV && format != audit.ExportJSONL) {
		a.errorPage(w, r, http.StatusBadRequest, "bad_request")
		return
	}
	ext := map[audit.ExportFormat]string{audit.ExportCSV: "csv", audit.ExportJSONL: "jsonl"}[format]
	ctype := map[audit.ExportFormat]string{audit.ExportCSV: "text/csv; charset=utf-8", audit.ExportJSONL: "application/jsonl"}[format]
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="audit-export.`+ext+`"`)
	w.Header().Set("Cache-Control", "no-store")
	vs := audit.VerifiedSearcher(a.d.AuditEntries(), audit.VerifyOptions{Keys: a.d.TrustedKeys()})
	n, err := audit.Export(r.Context(), w, vs, f, format)
	e := audit.Event{Action: audit.ActionExport, Target: audit.Target{RecordType: "audit_trail", Subject: s.Subject},
		Attrs: map[string]string{"format": ext, "records": strconv.FormatInt(n, 10)}}
	if err != nil {
		a.log.ErrorContext(r.Context(), "audit export", "err", err)
		e.Outcome, e.Reason = audit.OutcomeFailure, "export_failed"
	}
	if werr := a.d.Audit.Write(r.Context(), a.stamp(r, e)); werr != nil {
		a.log.ErrorContext(r.Context(), "audit the audit export", "err", werr)
	}
	if err != nil && n == 0 {
		w.Header().Del("Content-Disposition")
		a.errorPage(w, r, http.StatusBadGateway, "audit_trail_unverified")
	}
}

// stamp completes an event the way clinic.record does, for events written
// after the answer has begun.
func (a *app) stamp(r *http.Request, e audit.Event) audit.Event {
	if act, ok := auth.ActorFromRequest(r); ok {
		e.Actor = act
	}
	e.Origin = audit.Origin{Channel: audit.ChannelWeb, ClientIP: audit.PeerIP(r), Route: r.Pattern}
	if e.Outcome == "" {
		e.Outcome = audit.OutcomeSuccess
	}
	e.Time = a.now().UTC()
	return e
}

// pageDisclosures: GET /audit/patients/{id}/disclosures, the accounting
// of disclosures (45 CFR 164.528) for one patient.
func (a *app) pageDisclosures(w http.ResponseWriter, r *http.Request) {
	id := validPatientID(r.PathValue("id"))
	if id == "" {
		a.errorPage(w, r, http.StatusNotFound, "not_found")
		return
	}
	acc, err := audit.AccountingOfDisclosures(r.Context(), a.searcher(), audit.AccountingRequest{Subject: id, Now: a.now()})
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	a.render(w, r, 0, "disclosures", "Accounting of disclosures", acc, "")
}

// pageBreakGlass: GET /audit/break-glass, the emergency accesses of the
// last 30 days with the events each session wrote.
func (a *app) pageBreakGlass(w http.ResponseWriter, r *http.Request) {
	now := a.now()
	accs, err := a.d.Auth.EmergencyReport(r.Context(), now.Add(-30*24*time.Hour), now.Add(time.Nanosecond))
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	type row struct {
		auth.EmergencyAccess
		Name string
		Link string
	}
	names := a.names(r.Context())
	var rows []row
	for _, x := range accs {
		q := url.Values{"user": {names(x.UserID)}, "since": {x.StartedAt.UTC().Format(formTime)}}
		rows = append(rows, row{EmergencyAccess: x, Name: names(x.UserID), Link: "/audit?" + q.Encode()})
	}
	a.render(w, r, 0, "breakglass", "Break-glass review", rows, "")
}
