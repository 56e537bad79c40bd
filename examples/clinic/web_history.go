package main

import (
	"net/http"
)

// pageHistory: GET /patients/{id}/history[?field=], a record's change
// history (history.go: who, when, how, what, with which outcome). Roles
// holding audit:review_values get a button per change that opens its
// prior and new values through the audited reveal endpoint.
func (a *app) pageHistory(w http.ResponseWriter, r *http.Request) {
	req, ok := a.historyRequest(w, r)
	if !ok {
		return
	}
	h, ok := a.history(w, r, req)
	if !ok {
		return
	}
	a.render(w, r, 0, "history", "Change history", struct {
		History   any
		Subject   string
		Field     string
		CanReveal bool
		Fields    []string
	}{h, req.Subject, req.Field, a.can(r, permReviewValues), append(append([]string{}, demographicFields...), entryFields...)}, "")
}
