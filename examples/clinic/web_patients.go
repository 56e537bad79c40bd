package main

import (
	"context"
	"net/http"
	"time"
)

// The clinician pages. Reads go through readPatient (each field audited,
// only the fields the role may see); every change posts to the JSON API
// from the page, so it is checked and audited once, there.

// pagePatients: the MRN search. The MRN is posted to /api/patients/search
// (never put in a URL); the page then opens what the role may open: the
// record, or for a lab assistant the lab result form.
func (a *app) pagePatients(w http.ResponseWriter, r *http.Request) {
	next := "/patients/{id}"
	if !a.can(r, permDemoRead) && a.can(r, permLabWrite) {
		next = "/patients/{id}/lab"
	}
	a.render(w, r, 0, "patients", "Patients", struct{ Next string }{next}, "")
}

// pagePatientNew: the registration form (POST /api/patients).
func (a *app) pagePatientNew(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, 0, "patient_new", "New patient", struct{ Fields []fieldView }{a.fieldViews(nil)}, "")
}

type fieldView struct{ Name, Label, Value string }

// fieldViews lists the demographic fields in order with their values (the
// ones present in vals when not nil).
func (a *app) fieldViews(vals map[string]string) []fieldView {
	var out []fieldView
	for _, f := range demographicFields {
		v, ok := vals[f]
		if vals != nil && !ok {
			continue
		}
		out = append(out, fieldView{Name: f, Label: fieldLabels[f], Value: v})
	}
	return out
}

// entryView is a note, lab result or vital sign with its author and time.
type entryView struct {
	Value, Author string
	Time          time.Time
}

// patientPage is what the record page shows and offers.
type patientPage struct {
	ID                                  string
	Fields                              []fieldView
	Missing                             []fieldView // fields the record lacks, to add
	Clinical                            bool
	Notes, Labs, Vitals                 []entryView
	CanEdit, CanNote, CanLab, CanVitals bool
	CanExport, CanDisclose, CanHistory  bool
	CanAudit, CanHold, CanShred         bool
}

// pagePatient shows the fields the role may see (every one audited by
// readPatient) and the forms for what the role may change.
func (a *app) pagePatient(w http.ResponseWriter, r *http.Request) {
	p, ok := a.clinic.loadPatient(w, r)
	if !ok {
		return
	}
	v, ok := a.clinic.readPatient(r.Context(), w, r, p)
	if !ok {
		return
	}
	pg := patientPage{ID: p.ID, Fields: a.fieldViews(v.Fields), Clinical: a.can(r, permClinicalRead),
		CanEdit: a.can(r, permDemoWrite), CanNote: a.can(r, permClinicalWrite), CanLab: a.can(r, permLabWrite),
		CanVitals: a.can(r, permVitalsWrite), CanExport: a.can(r, permExportDeid), CanDisclose: a.can(r, permDisclose),
		CanHistory: a.can(r, permHistoryRead), CanAudit: a.can(r, permAuditRead), CanHold: a.can(r, permHold),
		CanShred: a.can(r, permShred)}
	for _, f := range demographicFields {
		if _, ok := v.Fields[f]; !ok {
			pg.Missing = append(pg.Missing, fieldView{Name: f, Label: fieldLabels[f]})
		}
	}
	names := a.names(r.Context())
	// readPatient opens the entries in the record's order.
	for _, set := range []struct {
		in  []entry
		val []string
		out *[]entryView
	}{{p.Notes, v.Notes, &pg.Notes}, {p.Labs, v.Labs, &pg.Labs}, {p.Vitals, v.Vitals, &pg.Vitals}} {
		for i, val := range set.val {
			*set.out = append(*set.out, entryView{Value: val, Author: names(set.in[i].Author), Time: set.in[i].Time})
		}
	}
	a.render(w, r, 0, "patient", "Patient record", pg, "")
}

// pagePatientLab: the lab assistant's form for a result, without reading
// the record (lab:write only).
func (a *app) pagePatientLab(w http.ResponseWriter, r *http.Request) {
	p, ok := a.clinic.loadPatient(w, r)
	if !ok {
		return
	}
	a.render(w, r, 0, "patient_lab", "Add a lab result", patientPage{ID: p.ID, CanLab: true}, "")
}

// pageExport: the Safe Harbor de-identified export of every patient.
func (a *app) pageExport(w http.ResponseWriter, r *http.Request) {
	ids, err := a.records.List(r.Context())
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	a.render(w, r, 0, "export", "De-identified export", struct{ IDs []string }{ids[:min(len(ids), 1000)]}, "")
}

// names returns a resolver from user IDs to login names (the directory
// holds no PHI), caching within one page.
func (a *app) names(ctx context.Context) func(id string) string {
	seen := map[string]string{}
	return func(id string) string {
		if n, ok := seen[id]; ok {
			return n
		}
		n := id
		if u, err := a.d.Users.Get(ctx, id); err == nil {
			n = u.Name
		}
		seen[id] = n
		return n
	}
}
