package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/audit"
)

// openDetails opens the <details> around sel, as a click on its summary does.
func (b *browser) openDetails(sel string) chromedp.Action[chromedp.Void] {
	return b.js(fmt.Sprintf(`document.querySelector(%q).closest("details").open = true`, sel))
}

// js is an action that evaluates the statement js in the page.
func (b *browser) js(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](js+"; true")(ctx, tg)
		return err
	})
}

// TestBrowserClinicianWorkflow: the physician registers a patient, adds a
// missing field and edits another (Enter submits: keyboard only), adds a
// note, a lab result and vitals (each shown with author and time) and
// downloads the Safe Harbor export; the front desk sees demographics only
// and no clinical forms; the lab assistant adds a result without reading
// the record.
func TestBrowserClinicianWorkflow(t *testing.T) {
	t.Parallel()
	tc, b := browserClinic(t)
	b.login(rolePhysician)
	b.open("/patients/new", "#new-patient")
	b.check("patient-new")
	b.do("register", b.fill("#new-mrn", "MRN-7001"), b.fill("#new-name", "Ada Example"),
		chromedp.SetAttributeValue("#new-dob", "value", "1980-05-06"), b.fill("#new-zip", "02139"),
		chromedp.Click("#create"), chromedp.WaitVisible("#patient"))
	id := b.text("#patient-id")
	b.do("add the phone number", b.openDetails("#add-phone"), b.fill("#add-phone", "+1 617 555 0199"), chromedp.SendKeys("#add-phone", "\r"))
	b.waitText("phone added", `#patient`, "+1 617 555 0199")
	b.do("edit the name", b.openDetails("#edit-name"), b.fill("#edit-name", "Ada Q. Example"), chromedp.SendKeys("#edit-name", "\r"))
	b.waitText("name changed", `dd[data-field="name"]`, "Ada Q. Example")
	for _, e := range []struct{ input, button, list, value string }{
		{"#note-value", "#note-submit", "#notes", "Seen for a follow-up; stable."},
		{"#lab-value", "#lab-submit", "#labs", "HbA1c 6.1 %"},
		{"#vitals-value", "#vitals-submit", "#vitals", "BP 118/76, HR 70"},
	} {
		b.do("add "+e.list, b.fill(e.input, e.value), chromedp.Click(e.button))
		b.waitText(e.list+" shown", e.list, e.value)
		if meta := b.text(e.list + " .entry-meta"); !strings.Contains(meta, rolePhysician) || !strings.Contains(meta, "UTC") {
			t.Fatalf("%s shows author and time %q", e.list, meta)
		}
	}
	b.do("de-identified download", chromedp.Click("#deid-download"))
	b.waitText("export downloaded", "#deid-one .form-status", "Downloaded.")
	b.check("patient-record")
	b.open("/export", "#deid-all")
	b.check("export")
	b.logout()

	b.login(roleFrontDesk)
	b.open("/patients", "#search")
	b.do("front desk finds the patient", b.fill("#mrn", "MRN-7001"), chromedp.Click("#find"), chromedp.WaitVisible("#patient"))
	if n := eval[int](b, `document.querySelectorAll("#notes, #add-note, #add-lab, #deid-download").length`); n != 0 {
		t.Fatalf("the front desk is shown %d clinical parts", n)
	}
	b.check("patient-front-desk")
	b.logout()

	b.login(roleLab)
	b.open("/patients", "#search")
	b.do("lab assistant finds the patient", b.fill("#mrn", "MRN-7001"), chromedp.Click("#find"), chromedp.WaitVisible("#add-lab"))
	if n := eval[int](b, `document.querySelectorAll("#patient, [data-field]").length`); n != 0 {
		t.Fatal("the lab assistant's page shows record fields")
	}
	b.do("add a result", b.fill("#lab-value", "LDL 2.9 mmol/L"), chromedp.Click("#lab-submit"))
	b.waitText("result added", "#lab-status", "Lab result added")
	b.check("lab-result")
	p, err := tc.app.records.Get(context.Background(), id)
	if err != nil || len(p.Labs) != 2 || len(p.Notes) != 1 || len(p.Vitals) != 1 {
		t.Fatalf("stored record: %d labs, %d notes, %d vitals (%v)", len(p.Labs), len(p.Notes), len(p.Vitals), err)
	}
}

// TestBrowserAuditorWorkflow: the auditor searches the trail by user name
// and by MRN, pages, opens the accounting of disclosures of a patient and
// the break-glass review.
func TestBrowserAuditorWorkflow(t *testing.T) {
	t.Parallel()
	tc, b := browserClinic(t)
	desk := tc.login(roleFrontDesk)
	var found struct{ ID string }
	desk.mustStatus(http.StatusOK, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-1001"}, &found)
	desk.mustStatus(http.StatusCreated, "POST", "/api/patients/"+found.ID+"/disclosures", map[string]any{
		"recipient": map[string]string{"name": "County Health Department", "kind": "organization"}, "purpose": "public_health"}, nil)
	tc.login(rolePhysician).mustStatus(http.StatusOK, "PUT", "/api/patients/"+found.ID, map[string]string{"name": "Jane Q. Doe"}, nil)
	nurse := tc.login(roleNurse)
	nurse.mustStatus(http.StatusOK, "POST", "/api/auth/emergency/elevate", map[string]any{"role": roleEmergency,
		"reason": "Unresponsive patient in the emergency room, chart needed"}, nil)

	b.login(roleAuditor)
	b.open("/audit", "#audit-search")
	b.do("search by user name", b.fill("#f-user", "front_desk"), chromedp.Click("#audit-find"))
	b.waitJS("the search runs", `location.search.includes("user=front_desk")`)
	if rows := b.text("#audit tbody"); !strings.Contains(rows, "front_desk") || !strings.Contains(rows, "disclose") || strings.Contains(rows, "nurse ") {
		t.Fatalf("events of front_desk: %q", rows)
	}
	b.check("audit-by-user")
	b.do("search by MRN", b.fill("#f-mrn", "MRN-1001"), chromedp.Click("#audit-mrn-find"))
	b.waitJS("the patient's events open", `location.search.startsWith("?subject=")`)
	b.do("events shown", chromedp.WaitVisible("#audit"))
	if v := eval[string](b, `document.getElementById("f-subject").value`); v != found.ID {
		t.Fatalf("the MRN search opened subject %q, want %s", v, found.ID)
	}
	b.open("/audit/patients/"+found.ID+"/disclosures", "#disclosures")
	if d := b.text("#disclosures"); !strings.Contains(d, "County Health Department") || !strings.Contains(d, "public_health") {
		t.Fatalf("the accounting shows %q", d)
	}
	b.check("disclosures")
	b.open("/patients/"+found.ID+"/history?field=name", "#history")
	b.do("open the values of the change", chromedp.Click(`#history tr:last-child form.reveal button`))
	b.waitText("prior value shown", "#history tr:last-child .form-status", "before: Jane Doe (revealed); after: Jane Q. Doe (revealed)")
	b.check("history")
	var reveals int
	for _, e := range tc.events(t) {
		if e.Action == audit.ActionReveal && e.Purpose == "audit_review" && e.Actor.UserID == tc.users[roleAuditor].ID {
			reveals++
		}
	}
	if reveals != 2 {
		t.Fatalf("%d audit_review reveals recorded, want 2 (prior and new)", reveals)
	}
	b.open("/audit/break-glass", "#breakglass")
	if d := b.text("#breakglass"); !strings.Contains(d, "Unresponsive patient") || !strings.Contains(d, "nurse") {
		t.Fatalf("the break-glass review shows %q", d)
	}
	b.check("break-glass")
}

// TestBrowserAdminWorkflow: an administrator creates a user with a
// PHI-reading role, which waits for the second administrator's approval;
// places a legal hold, sees the shred refused, lifts the hold, shreds with
// the certificate and verifies it; backs up, verifies and drills; reads
// the compliance report.
func TestBrowserAdminWorkflow(t *testing.T) {
	t.Parallel()
	tc, b := browserClinic(t)
	target := ""
	{
		var out struct{ ID string }
		tc.login(rolePhysician).mustStatus(http.StatusOK, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-1002"}, &out)
		target = out.ID
	}
	b.login(roleAdmin)
	b.open("/admin/users", "#new-user")
	b.do("create a user", b.fill("#nu-name", "newnurse"), b.fill("#nu-password", "correct horse battery staple 7"),
		chromedp.Click(`#new-user input[value="nurse"]`), chromedp.Click("#nu-create"))
	b.waitText("the request waits for approval", "#users", "(by admin)")
	b.check("users")
	b.logout()
	b.login(secondAdmin)
	b.open("/admin/users", "#manage-newnurse")
	b.do("approve", b.openDetails("#manage-newnurse button.approve"), chromedp.Click("#manage-newnurse button.approve"))
	b.waitJS("approved", `(() => { const r = document.getElementById("user-newnurse"); return !!r && !r.textContent.includes("(by") })()`)
	if row := b.text("#user-newnurse"); !strings.Contains(row, "nurse") {
		t.Fatalf("after approval the row shows %q", row)
	}

	b.open("/admin/holds", "#set-hold")
	b.do("place a hold", b.fill("#hold-patient", target), b.fill("#hold-reason", "Litigation hold 2026-17"), chromedp.Click("#hold-submit"))
	b.waitText("hold listed", "#holds", "Litigation hold 2026-17")
	// Who set it, by name (the user directory), not by user ID.
	by := b.text("#holds .hold-set-by")
	if u, ok := tc.users[by]; !ok || u.ID == "" || strings.Contains(b.text("#holds"), u.ID) {
		t.Fatalf("the hold shows its setter as %q (want a user's name, never the ID)", by)
	}
	if help := b.text("#patient-id-help"); !strings.Contains(help, "patient ID") || !strings.Contains(help, "record page") {
		t.Fatalf("the holds page does not explain where the patient ID comes from: %q", help)
	}
	b.do("shred under hold", b.fill("#shred-patient", target), b.fill("#shred-reason", "Retention period ended"),
		chromedp.Click("#shred-confirm"), chromedp.Click("#shred-submit"))
	b.waitText("shred refused", "#shred-status", "legal hold")
	b.do("lift the hold", b.fill(`#holds input[name="reason"]`, "Case closed"), chromedp.SendKeys(`#holds input[name="reason"]`, "\r"))
	b.waitText("hold lifted", "#holds", "lifted")
	b.do("shred", b.fill("#shred-patient", target), b.fill("#shred-reason", "Retention period ended"),
		chromedp.Click("#shred-confirm"), chromedp.Click("#shred-submit"))
	b.waitText("shredded", "#shred-status", "Disposed of")
	b.do("verify the certificate", chromedp.Click("#cert-verify"))
	b.waitText("certificate valid", "#cert-status", "valid: disposal")
	b.do("verify a forged certificate", b.js(`(() => { const t = document.getElementById("cert-text"); t.value = t.value.replace("Retention", "Retentiom") })()`),
		chromedp.Click("#cert-verify"))
	b.waitText("forgery refused", "#cert-status", "NOT valid")
	b.check("holds")

	b.open("/admin/backups", "#backup-now")
	b.do("back up", chromedp.Click("#backup-create"))
	b.waitText("backup listed", "#backups", "Verify ")
	b.do("verify the backup", chromedp.Click("#backups button.verify"))
	b.waitText("backup verified", "#backups", "ok = true")
	b.do("drill", chromedp.Click("#drill-run"))
	b.waitText("drill passed", "#drill-status", "pass = true")
	b.check("backups")
	b.open("/admin/report", "#report")
	if rep := b.text("#report"); !strings.Contains(rep, "164.312(b)") {
		t.Fatalf("the report shows %.300q", rep)
	}
	b.check("report")
}
