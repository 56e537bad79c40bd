package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserNurseWorkflow: the nurse finds a patient by MRN and reads the
// record (demographics and the physician's note), records vitals (shown
// with the nurse as author and the time), and opens the record's change
// history, which lists the changes without offering to open their values
// (the nurse has no audit_review permission). The record page offers no
// note, lab or de-identified export form, which the role may not use;
// the server refuses a note the nurse posts anyway. Each page passes axe
// at desktop and 390 px.
func TestBrowserNurseWorkflow(t *testing.T) {
	t.Parallel()
	tc, b := browserClinic(t)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-8001", "Grace Example")
	doc.mustStatus(http.StatusCreated, "POST", "/api/patients/"+id+"/notes", map[string]string{"value": "Allergic to penicillin."}, nil)

	b.login(roleNurse)
	b.open("/patients", "#search")
	b.check("patients")
	b.do("find the patient", b.fill("#mrn", "MRN-8001"), chromedp.Click("#find"), chromedp.WaitVisible("#patient"))
	b.waitText("name shown", "#patient", "Grace Example")
	b.waitText("note shown", "#notes", "Allergic to penicillin.")
	if n := eval[int](b, `document.querySelectorAll("#add-note, #note-value, #add-lab, #lab-value, #deid-download, #deid-one").length`); n != 0 {
		t.Fatalf("the nurse is offered %d forms of actions the role may not take", n)
	}
	b.do("record vitals", b.fill("#vitals-value", "T 37.2 C, SpO2 98 %"), chromedp.Click("#vitals-submit"))
	b.waitText("vitals shown", "#vitals", "T 37.2 C, SpO2 98 %")
	if meta := b.text("#vitals .entry-meta"); !strings.Contains(meta, roleNurse) || !strings.Contains(meta, "UTC") {
		t.Fatalf("the vitals show author and time %q", meta)
	}
	b.check("patient-record")

	b.do("open the history", chromedp.Click("#history-link"), chromedp.WaitVisible("#history"))
	hist := b.text("#history")
	for _, want := range []string{"vitals", roleNurse, rolePhysician, "note"} {
		if !strings.Contains(hist, want) {
			t.Fatalf("the history lacks %q: %.300q", want, hist)
		}
	}
	if n := eval[int](b, `document.querySelectorAll("#history form.reveal").length`); n != 0 {
		t.Fatalf("the nurse is offered %d value reveals", n)
	}
	b.check("history")
	b.logout()

	nurse := tc.login(roleNurse)
	if st, _ := nurse.raw("POST", "/api/patients/"+id+"/notes", map[string]string{"value": "not allowed"}); st != http.StatusForbidden {
		t.Fatalf("a nurse's note: %d, want 403", st)
	}
	p, err := tc.app.records.Get(context.Background(), id)
	if err != nil || len(p.Notes) != 1 || len(p.Vitals) != 1 {
		t.Fatalf("stored record: %d notes, %d vitals (%v)", len(p.Notes), len(p.Vitals), err)
	}
}
