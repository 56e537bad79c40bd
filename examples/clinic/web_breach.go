package main

import (
	"net/http"

	"github.com/hipaakit/hipaakit/breach"
)

// The privacy officer's pages: the incidents with their deadlines, and one
// incident with its history, scoping from the verified audit trail, the
// four-factor assessment and the mailing list, all posted to the breach
// API (breach.go).

// pageBreach lists the incidents with their outstanding notices.
func (a *app) pageBreach(w http.ResponseWriter, r *http.Request) {
	incs, err := a.breach.List(r.Context())
	if err != nil {
		a.errorPage(w, r, http.StatusInternalServerError, "internal")
		return
	}
	var views []incidentView
	for _, inc := range incs {
		v, err := a.view(r.Context(), inc, false)
		if err != nil {
			a.errorPage(w, r, http.StatusInternalServerError, "internal")
			return
		}
		views = append(views, v)
	}
	a.render(w, r, 0, "breach", "Breach incidents", struct{ Incidents []incidentView }{views}, "")
}

// pageIncident: GET /breach/{id}.
func (a *app) pageIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := a.breach.Get(r.Context(), r.PathValue("id"))
	var v incidentView
	if err == nil {
		v, err = a.view(r.Context(), inc, true)
	}
	if err != nil {
		a.breachError(w, r, err) // JSON, made a page by htmlErrors
		return
	}
	conclusions := []breach.Conclusion{breach.ConclusionBreach, breach.ConclusionLowProbability, breach.ConclusionSecured,
		breach.ConclusionWorkforceGoodFaith, breach.ConclusionInadvertentAuthorized, breach.ConclusionCouldNotRetain}
	a.render(w, r, 0, "incident", "Incident "+inc.ID, struct {
		Incident    incidentView
		Conclusions []breach.Conclusion
	}{v, conclusions}, "")
}
