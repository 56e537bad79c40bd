package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/phi"
)

const (
	dobPriorCanary = "1955-01-01-CANARY-PRIOR"
	dobNewCanary   = "1956-02-02-CANARY-NEW"
)

type historyOut struct {
	Entries []struct {
		Time      string `json:"time"`
		Stream    string `json:"stream"`
		Seq       uint64 `json:"seq"`
		Action    string `json:"action"`
		Outcome   string `json:"outcome"`
		Reason    string `json:"reason"`
		ActorName string `json:"actor_name"`
		Actor     struct {
			UserID string `json:"user_id"`
		} `json:"actor"`
		Route    string `json:"route"`
		Field    string `json:"field"`
		HasNew   bool   `json:"has_new"`
		HasPrior bool   `json:"has_prior"`
		New      struct{ State, Value string }
		Prior    struct{ State, Value string }
	} `json:"entries"`
	Truncated bool `json:"truncated"`
}

func TestRecordHistoryAPI(t *testing.T) { onEveryStore(t, testRecordHistoryAPI) }

// The history of a patient's date of birth names who changed it, when, how
// and with which outcome; a reviewer with audit:review_values opens the
// prior and new values, each reveal recorded with purpose audit_review;
// after a shred the values are reported destroyed.
func testRecordHistoryAPI(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-H-1", "History Patient")
	p := "/api/patients/" + id
	doc.mustStatus(http.StatusOK, "PUT", p, map[string]string{"dob": dobPriorCanary}, nil)
	tc.login(roleFrontDesk).mustStatus(http.StatusOK, "PUT", p, map[string]string{"dob": dobNewCanary}, nil)

	auditor := tc.login(roleAuditor)
	var h historyOut
	auditor.mustStatus(http.StatusOK, "GET", p+"/history?field=dob", nil, &h)
	if len(h.Entries) != 3 {
		t.Fatalf("dob history: %d entries, want 3 (create, two updates)", len(h.Entries))
	}
	for i, want := range []struct{ action, name string }{{"create", rolePhysician}, {"update", rolePhysician}, {"update", roleFrontDesk}} {
		e := h.Entries[i]
		if e.Action != want.action || e.Outcome != "success" || e.ActorName != want.name || e.Actor.UserID != tc.users[want.name].ID ||
			e.Field != "dob" || !e.HasNew || e.HasPrior != (i > 0) || e.Route == "" || e.Stream == "" || e.Seq == 0 {
			t.Errorf("entry %d: %+v, want %s by %s", i, e, want.action, want.name)
		}
	}
	var all historyOut
	tc.login(roleNurse).mustStatus(http.StatusOK, "GET", p+"/history", nil, &all)
	if len(all.Entries) < 6 { // four fields created, two updates
		t.Fatalf("whole record: %d entries", len(all.Entries))
	}
	for _, role := range []string{roleLab, roleFrontDesk, roleAdmin} {
		tc.login(role).mustStatus(http.StatusForbidden, "GET", p+"/history", nil, nil)
	}
	auditor.mustStatus(http.StatusBadRequest, "GET", p+"/history?field=ssn", nil, nil)
	auditor.mustStatus(http.StatusNotFound, "GET", "/api/patients/p000000000000000000000000/history", nil, nil)

	// Reveal: the auditor opens the prior and new values.
	before := len(tc.events(t))
	var rv historyOut
	auditor.mustStatus(http.StatusOK, "POST", p+"/history/reveal", map[string]string{"field": "dob"}, &rv)
	if len(rv.Entries) != 3 || rv.Entries[1].Prior.Value != "1970-01-02" || rv.Entries[1].New.Value != dobPriorCanary ||
		rv.Entries[2].Prior.Value != dobPriorCanary || rv.Entries[2].New.Value != dobNewCanary ||
		rv.Entries[0].Prior.State != string(phi.ValueAbsent) || rv.Entries[2].New.State != string(phi.ValueRevealed) {
		t.Fatalf("revealed: %+v", rv.Entries)
	}
	reveals := 0
	for _, e := range tc.events(t)[before:] {
		if e.Action == audit.ActionReveal && e.Target.Subject == id {
			reveals++
			if e.Purpose != string(phi.PurposeAuditReview) || e.Outcome != audit.OutcomeSuccess || e.Actor.UserID != tc.users[roleAuditor].ID ||
				e.Attrs["audit_seq"] == "" {
				t.Errorf("reveal event: %+v", e)
			}
		}
	}
	if reveals != 5 { // one new value of the create, two values of each update
		t.Fatalf("%d reveal events, want 5", reveals)
	}
	// One change, by its audit record.
	var one historyOut
	last := h.Entries[2]
	auditor.mustStatus(http.StatusOK, "POST", p+"/history/reveal", map[string]any{"stream": last.Stream, "seq": last.Seq}, &one)
	if len(one.Entries) != 1 || one.Entries[0].New.Value != dobNewCanary {
		t.Fatalf("one change: %+v", one.Entries)
	}
	auditor.mustStatus(http.StatusNotFound, "POST", p+"/history/reveal", map[string]any{"stream": last.Stream, "seq": last.Seq + 100000}, nil)
	auditor.mustStatus(http.StatusBadRequest, "POST", p+"/history/reveal", map[string]any{"stream": last.Stream}, nil)
	// Roles without audit:review_values cannot, and the denial is recorded.
	before = len(tc.events(t))
	nurse := tc.login(roleNurse)
	nurse.mustStatus(http.StatusForbidden, "POST", p+"/history/reveal", map[string]string{"field": "dob"}, nil)
	denied := false
	for _, e := range tc.events(t)[before:] {
		denied = denied || (e.Action == audit.ActionPermissionDenied && e.Actor.UserID == tc.users[roleNurse].ID)
	}
	if !denied {
		t.Fatal("the refused reveal left no denial event")
	}

	// After a shred: the history stays, the values are destroyed.
	tc.login(roleAdmin).mustStatus(http.StatusOK, "POST", p+"/shred", map[string]string{"reason": "patient request"}, nil)
	rv, h = historyOut{}, historyOut{}
	auditor.mustStatus(http.StatusOK, "POST", p+"/history/reveal", map[string]string{"field": "dob"}, &rv)
	if len(rv.Entries) != 3 || rv.Entries[2].New.State != string(phi.ValueDestroyed) || rv.Entries[2].Prior.State != string(phi.ValueDestroyed) ||
		rv.Entries[2].New.Value != "" {
		t.Fatalf("after shred: %+v", rv.Entries)
	}
	auditor.mustStatus(http.StatusOK, "GET", p+"/history?field=dob", nil, &h)
	if n := len(h.Entries); n < 4 || h.Entries[n-1].Action != string(audit.ActionShred) {
		t.Fatalf("history after shred: %+v", h.Entries)
	}

	// The values never reach the service log or the trail in plaintext.
	if strings.Contains(tc.logs.String(), "CANARY") {
		t.Fatal("PHI in the service log")
	}
	for _, e := range tc.events(t) {
		for _, v := range append(mapValues(e.Attrs), e.Reason, e.Origin.Route, e.Target.Field) {
			if strings.Contains(v, "CANARY") {
				t.Fatalf("PHI in an audit event: %s %s", e.Action, strconv.Quote(e.Target.Field))
			}
		}
		if e.Change != nil && strings.Contains(string(e.Change.New)+string(e.Change.Prior), "CANARY") {
			t.Fatal("plaintext PHI in an audit event's change")
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}

// The history is read from the verified trail: an altered record makes it
// 502, never a forged history (nor values opened from it).
func TestHistoryRefusesTamperedTrail(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-T-1", "Tamper Patient")
	doc.mustStatus(http.StatusOK, "PUT", "/api/patients/"+id, map[string]string{"dob": "1971-01-01"}, nil)
	auditor := tc.login(roleAuditor)
	auditor.mustStatus(http.StatusOK, "GET", "/api/patients/"+id+"/history?field=dob", nil, nil)

	segs, _ := filepath.Glob(filepath.Join(tc.dir, hipaakit.DirAudit, "seg-*"))
	tampered := false
	for _, seg := range segs {
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		// The update now claims to be of another field (same length: the
		// line stays canonical, its hash no longer matches).
		old := `"field":"dob","record_id":"` + id + `"`
		if i := strings.LastIndex(string(b), old); i >= 0 {
			b = []byte(string(b[:i]) + `"field":"zip","record_id":"` + id + `"` + string(b[i+len(old):]))
			if err := os.WriteFile(seg, b, 0o600); err != nil {
				t.Fatal(err)
			}
			tampered = true
		}
	}
	if !tampered {
		t.Fatal("no change event found to tamper with")
	}
	auditor.mustStatus(http.StatusBadGateway, "GET", "/api/patients/"+id+"/history?field=dob", nil, nil)
	auditor.mustStatus(http.StatusBadGateway, "POST", "/api/patients/"+id+"/history/reveal", map[string]string{"field": "dob"}, nil)
}
