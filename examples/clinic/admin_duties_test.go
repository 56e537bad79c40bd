package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// Found in review: the administrator gave itself physician and read
// patient records at once; the only administrator could disable itself.
func TestAdminSeparationOfDuties(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-SOD-1", "Ada Lovelace")
	admin, admin2 := tc.login(roleAdmin), tc.login(secondAdmin)
	self := tc.users[roleAdmin].ID
	admin.mustStatus(http.StatusForbidden, "PUT", "/api/admin/users/"+self+"/roles", map[string][]string{"roles": {roleAdmin, rolePhysician}}, nil)
	admin.mustStatus(http.StatusForbidden, "PUT", "/api/admin/users/"+self+"/status", map[string]string{"status": "disabled"}, nil)
	admin.mustStatus(http.StatusForbidden, "POST", "/api/admin/users/"+self+"/reset-mfa", map[string]string{}, nil)
	// Another administrator cannot give it a PHI role either.
	admin2.mustStatus(http.StatusBadRequest, "PUT", "/api/admin/users/"+self+"/roles", map[string][]string{"roles": {roleAdmin, rolePhysician}}, nil)
	admin.mustStatus(http.StatusForbidden, "GET", "/api/patients/"+id, nil, nil)

	// A PHI grant needs a second administrator.
	lab := tc.login(roleLab)
	labID := tc.users[roleLab].ID
	lab.mustStatus(http.StatusForbidden, "GET", "/api/patients/"+id, nil, nil)
	admin.mustStatus(http.StatusAccepted, "PUT", "/api/admin/users/"+labID+"/roles", map[string][]string{"roles": {rolePhysician}}, nil)
	lab.mustStatus(http.StatusForbidden, "GET", "/api/patients/"+id, nil, nil)
	var pending []map[string]any
	admin2.mustStatus(http.StatusOK, "GET", "/api/admin/role-requests", nil, &pending)
	if len(pending) != 1 || pending[0]["user_id"] != labID || pending[0]["requested_by"] != self {
		t.Fatalf("pending requests: %v", pending)
	}
	admin.mustStatus(http.StatusForbidden, "POST", "/api/admin/users/"+labID+"/roles/approve", map[string]string{}, nil)
	admin2.mustStatus(http.StatusNoContent, "POST", "/api/admin/users/"+labID+"/roles/approve", map[string]string{}, nil)
	lab.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil)

	// The last active administrator stays.
	admin.mustStatus(http.StatusNoContent, "PUT", "/api/admin/users/"+tc.users[secondAdmin].ID+"/status", map[string]string{"status": "disabled"}, nil)
	admin2.mustStatus(http.StatusUnauthorized, "GET", "/api/admin/users", nil, nil)
	var seen, outcomes []string
	for _, e := range tc.events(t) {
		if e.Action == "role_changed" {
			seen = append(seen, e.Reason)
			outcomes = append(outcomes, string(e.Outcome))
		}
	}
	if got := strings.Join(seen, ","); !strings.Contains(got, "self_administration") || !strings.Contains(got, "approval_requested") ||
		!strings.Contains(got, "second_administrator_required") || !strings.Contains(got, "approved") {
		t.Fatalf("role_changed events: %v %v", seen, outcomes)
	}
}

// Found in review: a lost authenticator locked the user out for good.
func TestClinicMFARecovery(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	nurse := tc.users[roleNurse]
	if len(nurse.RecoveryCodes) != 10 {
		t.Fatalf("seeded recovery codes: %d", len(nurse.RecoveryCodes))
	}
	var out bytes.Buffer
	printDemoUsers(&out, []demoUser{nurse}, "https://clinic.test")
	if !strings.Contains(out.String(), nurse.RecoveryCodes[0]) || !strings.Contains(out.String(), nurse.RecoveryCodes[9]) {
		t.Fatal("the first start does not print the recovery codes")
	}
	// A recovery code signs the nurse in once.
	c := tc.anon()
	login := map[string]string{"tenant_id": demoTenant, "name": nurse.Name, "password": nurse.Password, "recovery_code": nurse.RecoveryCodes[0]}
	var res struct {
		Status    string `json:"status"`
		CSRFToken string `json:"csrf_token"`
	}
	if c.do("POST", "/api/auth/login", login, &res) != http.StatusOK || res.Status != "authenticated" {
		t.Fatalf("recovery code login: %+v", res)
	}
	c.csrf = res.CSRFToken
	var fresh struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.mustStatus(http.StatusOK, "POST", "/api/auth/mfa/recovery-codes", map[string]string{}, &fresh)
	if len(fresh.RecoveryCodes) != 10 {
		t.Fatalf("regenerated: %d", len(fresh.RecoveryCodes))
	}
	login["recovery_code"] = nurse.RecoveryCodes[1]
	if st := tc.anon().do("POST", "/api/auth/login", login, nil); st != http.StatusUnauthorized {
		t.Fatalf("an old recovery code after regeneration: %d", st)
	}

	// The administrator resets the authenticator: the nurse's sessions end
	// and the nurse enrols again.
	admin := tc.login(roleAdmin)
	admin.mustStatus(http.StatusNoContent, "POST", "/api/admin/users/"+nurse.ID+"/reset-mfa", map[string]string{}, nil)
	c.mustStatus(http.StatusUnauthorized, "GET", "/api/auth/session", nil, nil)
	for _, e := range tc.events(t) {
		if e.Action == "mfa_enrolled" && e.Reason == "admin_reset" && e.Actor.UserID == tc.users[roleAdmin].ID && e.Target.RecordID == nurse.ID {
			return
		}
	}
	t.Fatal("admin MFA reset not audited")
}

// Found in review: "x" broke the glass, and the emergency role could
// create patients and export.
func TestClinicBreakGlassLimits(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	nurse := tc.login(roleNurse)
	elevate := map[string]string{"role": roleEmergency, "reason": "x"}
	nurse.mustStatus(http.StatusForbidden, "POST", "/api/auth/emergency/elevate", elevate, nil)
	elevate["reason"] = "unresponsive patient in the emergency department"
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	nurse.mustStatus(http.StatusOK, "POST", "/api/auth/emergency/elevate", elevate, &out)
	nurse.csrf = out.CSRFToken
	nurse.mustStatus(http.StatusForbidden, "POST", "/api/patients", map[string]string{"mrn": "MRN-EG-1", "name": "New Person"}, nil)
	nurse.mustStatus(http.StatusForbidden, "POST", "/api/export/deidentified", map[string][]string{"ids": {"x"}}, nil)

	// The administrators see the alert.
	var alerts []alertView
	tc.login(roleAdmin).mustStatus(http.StatusOK, "GET", "/api/admin/alerts", nil, &alerts)
	if len(alerts) != 1 || !alerts[0].Started || alerts[0].UserID != tc.users[roleNurse].ID || alerts[0].Role != roleEmergency {
		t.Fatalf("alerts: %+v", alerts)
	}
	st, page := tc.login(roleAdmin).raw("GET", "/admin/alerts", nil)
	if st != http.StatusOK || !strings.Contains(string(page), "unresponsive patient") {
		t.Fatalf("alert page: %d", st)
	}
}
