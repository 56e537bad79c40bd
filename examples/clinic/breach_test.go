package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBreachResponse(t *testing.T) { onEveryStore(t, testBreachResponse) }

// testBreachResponse: a nurse's account reads three patients at night;
// the privacy officer opens an incident, scopes it from the trail (exactly
// those three), assesses it, sees the deadlines and takes the mailing list,
// which the accounting of disclosures then shows.
func testBreachResponse(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	var ids []string
	for i, mrn := range []string{"MRN-B1", "MRN-B2", "MRN-B3", "MRN-B4"} {
		ids = append(ids, newPatient(t, doc, mrn, canaryName+" "+string(rune('A'+i))))
	}
	tc.clock.Set(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC))
	nurse := tc.login(roleNurse)
	for _, id := range ids[:3] {
		nurse.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil)
	}
	tc.login(rolePhysician).mustStatus(http.StatusOK, "GET", "/api/patients/"+ids[3], nil, nil)
	tc.clock.Set(time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC))

	po := tc.login(rolePrivacyOfficer)
	tc.login(roleFrontDesk).mustStatus(http.StatusForbidden, "GET", "/api/breach/incidents", nil, nil)
	tc.login(roleNurse).mustStatus(http.StatusForbidden, "POST", "/api/breach/incidents", map[string]string{}, nil)

	code, raw := po.raw("POST", "/api/breach/incidents", map[string]string{"discovered_on": "2026-03-03", "time_zone": "America/New_York",
		"description": "Nurse account used at night for chart reads; patient " + canaryName + " phoned 555-123-4567"})
	if code != http.StatusBadRequest || strings.Contains(string(raw), "CANARY") || strings.Contains(string(raw), "4567") {
		t.Fatalf("description with PHI: %d %s", code, raw)
	}
	var inc struct {
		ID      string            `json:"id"`
		Fields  map[string]string `json:"fields"`
		History []struct {
			Op string `json:"op"`
		} `json:"history"`
		Notices []struct {
			Kind string `json:"kind"`
			Due  string `json:"due"`
		} `json:"notices"`
	}
	po.mustStatus(http.StatusCreated, "POST", "/api/breach/incidents", map[string]string{"discovered_on": "2026-03-03",
		"time_zone": "America/New_York", "description": "Nurse account used at night for chart reads from home", "vector": "stolen_credentials"}, &inc)
	path := "/api/breach/incidents/" + inc.ID

	var scope struct {
		Affected []struct {
			Subject  string   `json:"subject"`
			Elements []string `json:"elements"`
		} `json:"affected"`
	}
	window := map[string]any{"since": "2026-03-02T22:00:00Z", "until": "2026-03-03T06:00:00Z", "actors": []string{tc.users[roleNurse].ID}}
	po.mustStatus(http.StatusOK, "POST", path+"/scope", window, &scope)
	var got []string
	for _, a := range scope.Affected {
		got = append(got, a.Subject)
		if !slices.Contains(a.Elements, "patient.name") {
			t.Fatalf("%s: elements %v lack patient.name", a.Subject, a.Elements)
		}
	}
	want := slices.Clone(ids[:3])
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("affected %v, want exactly the three read at night %v", got, want)
	}
	po.mustStatus(http.StatusBadRequest, "POST", path+"/scope", map[string]any{"since": "2026-03-02T22:00:00Z"}, nil)

	po.mustStatus(http.StatusConflict, "POST", path+"/mailing-list", map[string]any{"scope": window, "mail_house": "Acme Mail"}, nil)
	po.mustStatus(http.StatusOK, "POST", path+"/assessment", map[string]string{
		"nature":     "Names, dates of birth and ZIP codes of three patients",
		"person":     "Unknown party using the nurse account from outside",
		"acquired":   "Records were displayed to the outside session",
		"mitigation": "Account disabled and sessions revoked next morning",
		"conclusion": "breach", "reason": "Identifiers viewed; low probability cannot be shown"}, nil)
	po.mustStatus(http.StatusOK, "GET", path, nil, &inc)
	if inc.Fields["status"] != "assessed" || inc.Fields["affected"] != "3" || len(inc.History) != 3 {
		t.Fatalf("incident %+v", inc)
	}
	if len(inc.Notices) != 2 || inc.Notices[0].Kind != "individuals" || inc.Notices[0].Due != "2026-05-02" ||
		inc.Notices[1].Kind != "hhs_annual_log" || inc.Notices[1].Due != "2027-03-01" {
		t.Fatalf("notices %+v", inc.Notices)
	}

	code, csv := po.raw("POST", path+"/mailing-list", map[string]any{"scope": window, "mail_house": "Acme Mail", "mail_house_address": "PO Box 1"})
	if code != http.StatusOK || strings.Count(string(csv), canaryName) != 3 {
		t.Fatalf("mailing list: %d %s", code, csv)
	}
	var acc struct {
		Disclosures []struct {
			Purpose   string `json:"purpose"`
			Recipient struct {
				Name string `json:"name"`
			} `json:"recipient"`
		} `json:"disclosures"`
	}
	tc.login(roleAuditor).mustStatus(http.StatusOK, "GET", "/api/patients/"+ids[0]+"/disclosures", nil, &acc)
	if len(acc.Disclosures) != 1 || acc.Disclosures[0].Recipient.Name != "Acme Mail" || acc.Disclosures[0].Purpose != "breach_notification" {
		t.Fatalf("accounting after the mailing list: %+v", acc)
	}
	if strings.Contains(tc.logs.String(), "CANARY") {
		t.Fatal("the logs hold PHI")
	}
}
