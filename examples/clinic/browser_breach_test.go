package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserBreachWorkflow signs in as the privacy officer in headless
// Chromium, reports an incident on the incident page, opens it, scopes it
// from the audit trail (the physician's reads of the demo patients within
// the window), records the four-factor assessment and reads the
// individual-notice deadline.
func TestBrowserBreachWorkflow(t *testing.T) {
	t.Parallel()
	tc, b := browserClinic(t)
	doc := tc.login(rolePhysician)
	for _, mrn := range []string{"MRN-1001", "MRN-1002"} {
		var out struct{ ID string }
		doc.mustStatus(200, "POST", "/api/patients/search", map[string]string{"mrn": mrn}, &out)
		doc.mustStatus(200, "GET", "/api/patients/"+out.ID, nil, nil)
	}
	b.login(rolePrivacyOfficer)
	b.open("/breach", "#open-incident")
	b.do("report an incident", chromedp.SetAttributeValue("#inc-discovered", "value", "2026-03-03"),
		b.fill("#inc-desc", "A workstation session was left signed in at the nurses' station"),
		b.fill("#inc-vector", "unattended_session"), chromedp.Click("#inc-open"), chromedp.WaitVisible("#scope"))
	b.check("incident")
	since := tc.clock.Now().Add(-2 * 3600e9).UTC().Format(formTime)
	until := tc.clock.Now().Add(3600e9).UTC().Format(formTime)
	b.do("scope from the trail", chromedp.SetAttributeValue("#sc-since", "value", since), chromedp.SetAttributeValue("#sc-until", "value", until),
		b.fill("#sc-actors", tc.users[rolePhysician].ID), chromedp.Click("#scope-run"))
	b.waitText("scope recorded", "#scope-status", "2 affected")
	b.do("assess", b.fill("#as-nature", "Demographics of two patients"), b.fill("#as-person", "Unknown member of the public"),
		b.fill("#as-acquired", "Viewed on screen, not copied"), b.fill("#as-mitigation", "Session ended, staff retrained"),
		b.fill("#as-reason", "Names and dates of birth were viewed"), chromedp.Click("#assess-submit"))
	b.waitText("assessment recorded", "#incident", "assessed")
	notices := b.text("#notices")
	if !strings.Contains(notices, "individuals (164.404)") || !strings.Contains(notices, "2026-05-02") {
		t.Fatalf("the incident shows the notices %q", notices)
	}
	b.open("/breach", "#incidents")
	b.check("incidents")
	incs, err := tc.app.breach.List(context.Background())
	if err != nil || len(incs) != 1 || incs[0].Affected() != 2 {
		t.Fatalf("incidents %v (%v)", incs, err)
	}
}
