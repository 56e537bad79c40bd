package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
)

const canaryName = "Zelda CANARY-7731 Quux"

// newPatient creates a patient as the physician and returns its ID.
func newPatient(t *testing.T, doc *client, mrn, name string) string {
	t.Helper()
	var out struct{ ID string }
	doc.mustStatus(http.StatusCreated, "POST", "/api/patients",
		map[string]string{"mrn": mrn, "name": name, "dob": "1970-01-02", "zip": "02139"}, &out)
	if out.ID == "" {
		t.Fatal("create returned no id")
	}
	return out.ID
}

// events returns every audit event recorded so far, oldest first.
func (tc *testClinic) events(t *testing.T) []audit.Event {
	t.Helper()
	evs, err := tc.allEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// allEvents reads the whole trail in listing order (oldest first) in one
// search without a limit: the searcher streams it, where pages of a limited
// Query would each read the file trail from its start again.
func (tc *testClinic) allEvents(ctx context.Context) ([]audit.Event, error) {
	var evs []audit.Event
	for r, err := range tc.app.searcher().Search(ctx, audit.Filter{}) {
		if err != nil {
			return nil, err
		}
		evs = append(evs, r.Event)
	}
	return evs, nil
}

func TestRolesAndMinimumNecessary(t *testing.T) { onEveryStore(t, testRolesAndMinimumNecessary) }

func testRolesAndMinimumNecessary(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-9001", canaryName)
	p := "/api/patients/" + id

	doc.mustStatus(http.StatusCreated, "POST", p+"/notes", map[string]string{"value": "Type 2 diabetes, stable"}, nil)
	var full patientView
	doc.mustStatus(http.StatusOK, "GET", p, nil, &full)
	if full.Fields["name"] != canaryName || len(full.Notes) != 1 {
		t.Fatalf("physician view: %+v", full)
	}

	nurse := tc.login(roleNurse)
	nurse.mustStatus(http.StatusCreated, "POST", p+"/vitals", map[string]string{"value": "BP 120/80"}, nil)
	nurse.mustStatus(http.StatusForbidden, "PUT", p, map[string]string{"name": "X"}, nil)
	var nv patientView
	nurse.mustStatus(http.StatusOK, "GET", p, nil, &nv)
	if len(nv.Vitals) != 1 || len(nv.Notes) != 1 {
		t.Fatalf("nurse should read clinical data: %+v", nv)
	}

	desk := tc.login(roleFrontDesk)
	var dv patientView
	desk.mustStatus(http.StatusOK, "GET", p, nil, &dv)
	if dv.Fields["name"] != canaryName || len(dv.Notes)+len(dv.Vitals)+len(dv.Labs) != 0 {
		t.Fatalf("front desk must see demographics only: %+v", dv)
	}
	desk.mustStatus(http.StatusForbidden, "POST", p+"/notes", map[string]string{"value": "x"}, nil)

	lab := tc.login(roleLab)
	lab.mustStatus(http.StatusCreated, "POST", p+"/labs", map[string]string{"value": "HbA1c 6.9%"}, nil)
	lab.mustStatus(http.StatusForbidden, "GET", p, nil, nil)

	auditor := tc.login(roleAuditor)
	auditor.mustStatus(http.StatusForbidden, "GET", p, nil, nil)
	auditor.mustStatus(http.StatusOK, "GET", "/api/audit?subject="+id, nil, nil)
	auditor.mustStatus(http.StatusOK, "GET", p+"/disclosures", nil, nil)

	admin := tc.login(roleAdmin)
	admin.mustStatus(http.StatusForbidden, "GET", p, nil, nil)
	admin.mustStatus(http.StatusForbidden, "GET", "/api/audit", nil, nil)

	// Nobody reaches an undeclared route.
	doc.mustStatus(http.StatusNotFound, "GET", "/api/undeclared", nil, nil)
	// Without a session: 401.
	tc.anon().mustStatus(http.StatusUnauthorized, "GET", p, nil, nil)
}

func TestEveryPHIAccessAudited(t *testing.T) { onEveryStore(t, testEveryPHIAccessAudited) }

func testEveryPHIAccessAudited(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-9002", canaryName)
	doc.mustStatus(http.StatusOK, "PUT", "/api/patients/"+id, map[string]string{"zip": "10001"}, nil)
	doc.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil)
	tc.login(roleLab).mustStatus(http.StatusForbidden, "GET", "/api/patients/"+id, nil, nil)

	var sawRead, sawUpdate, sawDenied bool
	for _, e := range tc.events(t) {
		if e.Target.Subject != id && e.Action != audit.ActionPermissionDenied {
			continue
		}
		switch {
		case e.Action == audit.ActionRead && e.Target.Field == "name":
			sawRead = e.Actor.UserID == tc.users[rolePhysician].ID && e.Target.RecordType == "patient" &&
				e.Outcome == audit.OutcomeSuccess && !e.Time.IsZero()
		case e.Action == audit.ActionUpdate && e.Target.Field == "zip":
			sawUpdate = e.Change != nil && len(e.Change.Prior) > 0 && len(e.Change.New) > 0
		case e.Action == audit.ActionPermissionDenied && e.Actor.UserID == tc.users[roleLab].ID:
			sawDenied = true
		}
		if e.Change != nil && strings.Contains(string(e.Change.New)+string(e.Change.Prior), "CANARY") {
			t.Fatal("plaintext PHI in an audit event's change")
		}
	}
	if !sawRead || !sawUpdate || !sawDenied {
		t.Fatalf("audit trail incomplete: read %v, update with sealed prior %v, denial %v", sawRead, sawUpdate, sawDenied)
	}
	if strings.Contains(tc.logs.String(), "CANARY") {
		t.Fatal("PHI in the service log")
	}
}

func TestIdleTimeoutLogsOff(t *testing.T) { onEveryStore(t, testIdleTimeoutLogsOff) }

func testIdleTimeoutLogsOff(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-9003", "A Patient")
	tc.clock.Advance(14 * time.Minute)
	doc.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil)
	tc.clock.Advance(16 * time.Minute)
	doc.mustStatus(http.StatusUnauthorized, "GET", "/api/patients/"+id, nil, nil)
}

func TestShredThenReadIsGone(t *testing.T) { onEveryStore(t, testShredThenReadIsGone) }

func testShredThenReadIsGone(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	gone := newPatient(t, doc, "MRN-9004", "To Be Shredded")
	kept := newPatient(t, doc, "MRN-9005", "Stays")
	admin := tc.login(roleAdmin)

	// A legal hold blocks the shred.
	var hold struct{ ID string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/patients/"+gone+"/hold", map[string]string{"reason": "litigation 2026-17"}, &hold)
	admin.mustStatus(http.StatusConflict, "POST", "/api/patients/"+gone+"/shred", map[string]string{"reason": "retention expired"}, nil)
	admin.mustStatus(http.StatusOK, "DELETE", "/api/holds/"+hold.ID, map[string]string{"reason": "settled"}, nil)

	var out struct{ Certificate string }
	admin.mustStatus(http.StatusOK, "POST", "/api/patients/"+gone+"/shred", map[string]string{"reason": "patient request"}, &out)
	cert, err := disposal.VerifyCertificate([]byte(out.Certificate), tc.app.d.TrustedKeys())
	if err != nil || cert.Subject != gone {
		t.Fatalf("certificate: %+v, %v", cert, err)
	}
	doc.mustStatus(http.StatusGone, "GET", "/api/patients/"+gone, nil, nil)
	doc.mustStatus(http.StatusOK, "GET", "/api/patients/"+kept, nil, nil)
}

func TestDeidentifiedExport(t *testing.T) { onEveryStore(t, testDeidentifiedExport) }

func testDeidentifiedExport(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-9006", canaryName)
	var out struct{ Records []map[string]string }
	doc.mustStatus(http.StatusOK, "POST", "/api/export/deidentified", map[string]any{"ids": []string{id}}, &out)
	if len(out.Records) != 1 || out.Records[0]["dob"] != "1970" || out.Records[0]["zip"] != "021" {
		t.Fatalf("export: %+v", out.Records)
	}
	if _, ok := out.Records[0]["name"]; ok {
		t.Fatal("the name survived de-identification")
	}
	tc.login(roleNurse).mustStatus(http.StatusForbidden, "POST", "/api/export/deidentified", map[string]any{"ids": []string{id}}, nil)
}

// TestAuditPage: the auditor's page lists the newest events (here the
// physician's create of a patient) and is closed to other roles.
func TestAuditPage(t *testing.T) { onEveryStore(t, testAuditPage) }

func testAuditPage(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	id := newPatient(t, tc.login(rolePhysician), "MRN-9201", canaryName)
	status, body := tc.login(roleAuditor).raw("GET", "/audit", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "patient "+id) {
		t.Fatalf("audit page: %d, lists the new patient: %v", status, strings.Contains(string(body), id))
	}
	if strings.Contains(string(body), "CANARY") {
		t.Fatal("PHI on the audit page")
	}
	tc.login(rolePhysician).mustStatus(http.StatusForbidden, "GET", "/audit", nil, nil)
}

// The administrator manages users without seeing PHI: listing, disabling
// (which ends the user's sessions at once) and unlocking; the auditor reviews
// break-glass accesses.
func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	nurse := tc.login(roleNurse)
	nurse.mustStatus(http.StatusOK, "POST", "/api/auth/session/keepalive", nil, nil)

	admin := tc.login(roleAdmin)
	var users []userView
	admin.mustStatus(http.StatusOK, "GET", "/api/admin/users", nil, &users)
	if len(users) != len(demoAccounts()) {
		t.Fatalf("listed %d users, want %d", len(users), len(demoAccounts()))
	}
	for _, u := range users {
		if !u.MFA || u.Status != "active" || slices.Contains(u.Roles, roleAdmin) != u.Admin {
			t.Fatalf("user view %+v", u)
		}
	}
	id := tc.users[roleNurse].ID
	admin.mustStatus(http.StatusNoContent, "PUT", "/api/admin/users/"+id+"/status", map[string]string{"status": "disabled"}, nil)
	nurse.mustStatus(http.StatusUnauthorized, "GET", "/api/auth/session", nil, nil)
	admin.mustStatus(http.StatusNoContent, "POST", "/api/admin/users/"+id+"/unlock", map[string]string{}, nil)
	admin.mustStatus(http.StatusBadRequest, "PUT", "/api/admin/users/"+id+"/roles", map[string][]string{"roles": {"surgeon"}}, nil)

	// Only the administrator manages users; only the auditor reviews emergencies.
	tc.login(rolePhysician).mustStatus(http.StatusForbidden, "GET", "/api/admin/users", nil, nil)
	tc.login(roleAuditor).mustStatus(http.StatusOK, "GET", "/api/emergency/report", nil, nil)
	admin.mustStatus(http.StatusForbidden, "GET", "/api/emergency/report", nil, nil)
}
