package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestRecordDisclosure(t *testing.T) { onEveryStore(t, testRecordDisclosure) }

func testRecordDisclosure(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-9301", canaryName)
	doc.mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil) // a treatment use, not a disclosure
	p := "/api/patients/" + id + "/disclosures"
	body := json.RawMessage(`{"recipient":{"kind":"organization","name":"County Health Dept","address":"1 Main St"},` +
		`"purpose":"public_health","record_type":"immunization","record_id":"imm-1"}`)

	desk := tc.login(roleFrontDesk)
	desk.mustStatus(http.StatusCreated, "POST", p, body, nil)
	for _, bad := range []string{
		`{"recipient":{"name":"X"},"purpose":"public_health","extra":1}`,                        // unknown field
		`{"recipient":{"name":""},"purpose":"public_health"}`,                                   // no recipient
		`{"recipient":{"name":"X"}}`,                                                            // no purpose
		`{"recipient":{"name":"X","kind":"robot"},"purpose":"public_health"}`,                   // bad kind
		`{"recipient":{"name":"X"},"purpose":"Public Health!"}`,                                 // not a purpose code
		`{"Recipient":{"Name":"X"},"Purpose":"public_health","recordType":"x","record_type":1}`, // wrong case and type
	} {
		desk.mustStatus(http.StatusBadRequest, "POST", p, json.RawMessage(bad), nil)
	}
	desk.mustStatus(http.StatusNotFound, "POST", "/api/patients/p-nobody/disclosures", body, nil)
	tc.login(roleLab).mustStatus(http.StatusForbidden, "POST", p, body, nil)
	tc.login(roleAuditor).mustStatus(http.StatusForbidden, "POST", p, body, nil)

	var acc struct {
		Subject     string `json:"subject"`
		Disclosures []struct {
			Action     string `json:"action"`
			Purpose    string `json:"purpose"`
			RecordType string `json:"record_type"`
			RecordID   string `json:"record_id"`
			Actor      struct {
				UserID string `json:"user_id"`
			} `json:"actor"`
			Recipient struct {
				Kind    string `json:"kind"`
				Name    string `json:"name"`
				Address string `json:"address"`
			} `json:"recipient"`
		} `json:"disclosures"`
	}
	tc.login(roleAuditor).mustStatus(http.StatusOK, "GET", p, nil, &acc)
	if acc.Subject != id || len(acc.Disclosures) != 1 {
		t.Fatalf("accounting %+v: want exactly the one disclosure (treatment uses excluded)", acc)
	}
	d := acc.Disclosures[0]
	if d.Action != "disclose" || d.Purpose != "public_health" || d.RecordType != "immunization" || d.RecordID != "imm-1" ||
		d.Recipient.Name != "County Health Dept" || d.Recipient.Kind != "organization" || d.Recipient.Address != "1 Main St" ||
		d.Actor.UserID != tc.users[roleFrontDesk].ID {
		t.Fatalf("%+v", d)
	}
}
