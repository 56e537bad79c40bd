package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
)

// Fixes from the security review, each pinned by a test.

// An MRN stays unique across updates, so a search never returns the wrong
// patient; a shredded patient is no longer findable by MRN, and the MRN can
// be used again.
func TestMRNStaysUniqueAndDiesWithTheShred(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	a := newPatient(t, doc, "MRN-A-1", "Patient A")
	b := newPatient(t, doc, "MRN-B-1", "Patient B")
	doc.mustStatus(http.StatusConflict, "PUT", "/api/patients/"+b, map[string]string{"mrn": "MRN-A-1"}, nil)
	var found struct{ ID string }
	doc.mustStatus(http.StatusOK, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-A-1"}, &found)
	if found.ID != a {
		t.Fatalf("MRN-A-1 finds %s, want %s", found.ID, a)
	}
	doc.mustStatus(http.StatusOK, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-B-1"}, &found)
	if found.ID != b {
		t.Fatalf("MRN-B-1 finds %s, want %s", found.ID, b)
	}
	doc.mustStatus(http.StatusBadRequest, "PUT", "/api/patients/"+b, map[string]string{"mrn": strings.Repeat("9", 65)}, nil)

	admin := tc.login(roleAdmin)
	admin.mustStatus(http.StatusOK, "POST", "/api/patients/"+a+"/shred", map[string]string{"reason": "patient request"}, nil)
	doc.mustStatus(http.StatusNotFound, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-A-1"}, nil)
	newPatient(t, doc, "MRN-A-1", "A new patient with the freed MRN")
}

// A malformed patient ID is refused as not found and still audited, never
// turned into an unauditable request (503).
func TestMalformedPatientIDIsAudited(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	for _, path := range []string{"/api/patients/%FF%FE", "/api/patients/" + strings.Repeat("x", 5000)} {
		if st, _ := doc.raw("GET", path, nil); st != http.StatusNotFound {
			t.Fatalf("GET %.40s…: %d, want 404", path, st)
		}
	}
}

// Reveals made for the de-identified export name who made them.
func TestExportRevealsNameTheActor(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-E-1", "Export Me")
	doc.mustStatus(http.StatusOK, "POST", "/api/export/deidentified", map[string]any{"ids": []string{id}}, nil)
	reveals := 0
	for _, e := range tc.events(t) {
		if e.Action == audit.ActionReveal && e.Target.Subject == id {
			reveals++
			if e.Actor.UserID != tc.users[rolePhysician].ID {
				t.Fatalf("reveal event without its actor: %+v", e.Actor)
			}
		}
	}
	if reveals == 0 {
		t.Fatal("the export revealed nothing through the audited path")
	}
}

// The JSON API takes exactly one JSON object of bounded size.
func TestStrictJSONBodies(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	send := func(ct, body string) int {
		req, _ := http.NewRequest("POST", tc.srv.URL+"/api/patients/search", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-CSRF-Token", doc.csrf)
		resp, err := doc.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send("application/json", `{"mrn":"MRN-1"} {"mrn":"MRN-2"}`); st != http.StatusBadRequest {
		t.Fatalf("trailing data: %d", st)
	}
	if st := send("text/plain", `{"mrn":"MRN-1"}`); st != http.StatusUnsupportedMediaType {
		t.Fatalf("wrong content type: %d", st)
	}
	big := `{"mrn":"` + string(bytes.Repeat([]byte("1"), maxBody)) + `"}`
	if st := send("application/json", big); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", st)
	}
}
