package main

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// keysets counts the keysets in the clinic's key store (tombstones of
// shredded subjects are not keysets).
func (tc *testClinic) keysets(t *testing.T) int {
	t.Helper()
	n, after := 0, ""
	for {
		ks, err := tc.app.d.Keys.List(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n += len(ks)
		if len(ks) < 1000 {
			return n
		}
		after = ks[len(ks)-1].Ref
	}
}

// eventsSince returns the events recorded after the first n.
func (tc *testClinic) eventsSince(t *testing.T, n int) []audit.Event {
	t.Helper()
	return tc.events(t)[n:]
}

// count returns how many of evs match.
func count(evs []audit.Event, match func(e *audit.Event) bool) int {
	n := 0
	for i := range evs {
		if match(&evs[i]) {
			n++
		}
	}
	return n
}

// The first login right after the first start (in the same 30 s TOTP step
// as the seeding) works: seeding spends no code.
func TestFirstLoginInTheSeedingStep(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC))
	tc := startClinicWith(t, testConfig(t.TempDir()), clk, nil)
	u := tc.users[rolePhysician]
	code, err := totp.GenerateCodeCustom(u.TOTPSecret, clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Status string }
	st := tc.anon().do("POST", "/api/auth/login", map[string]string{"tenant_id": demoTenant, "name": u.Name,
		"password": u.Password, "totp_code": code}, &out)
	if st != http.StatusOK || out.Status != "authenticated" {
		t.Fatalf("first login in the seeding step: %d %+v", st, out)
	}
	// The code is still single-use.
	st = tc.anon().do("POST", "/api/auth/login", map[string]string{"tenant_id": demoTenant, "name": u.Name,
		"password": u.Password, "totp_code": code}, nil)
	if st == http.StatusOK {
		t.Fatal("a TOTP code was accepted twice")
	}
}

// An MRN search is recorded as a query, by the middleware and by the
// handler, never as a create.
func TestSearchRecordedAsQuery(t *testing.T) {
	t.Parallel()
	tc := startClinic(t, "", nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-Q-1", "Query Patient")
	n := len(tc.events(t))
	doc.mustStatus(http.StatusOK, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-Q-1"}, nil)
	doc.mustStatus(http.StatusNotFound, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-Q-404"}, nil)
	evs := tc.eventsSince(t, n)
	if c := count(evs, func(e *audit.Event) bool { return e.Action == audit.ActionCreate }); c != 0 {
		t.Fatalf("%d create events for searches", c)
	}
	found := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionQuery && e.Target.Subject == id && e.Target.Field == "mrn" && e.Outcome == audit.OutcomeSuccess
	})
	requests := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionQuery && e.Origin.Route == "POST /api/patients/search"
	})
	missed := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionQuery && e.Outcome == audit.OutcomeFailure && e.Reason == "http_404"
	})
	// The handler records the lookup that found the patient; the middleware
	// records both requests, the second as not found.
	if found != 1 || requests != 3 || missed != 1 {
		t.Fatalf("query events: %d for the patient, %d for the route, %d not found", found, requests, missed)
	}
}

func TestDuplicateMRNLeavesNoTrace(t *testing.T) { onEveryStore(t, testDuplicateMRNLeavesNoTrace) }

// A create refused for a taken MRN (409) records a failure, no create
// success, and leaves no keyset behind; so do the losers of concurrent
// creates of one new MRN, of which exactly one succeeds.
func testDuplicateMRNLeavesNoTrace(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	newPatient(t, doc, "MRN-D-1", "First")
	keys, n := tc.keysets(t), len(tc.events(t))
	doc.mustStatus(http.StatusConflict, "POST", "/api/patients", map[string]string{"mrn": "mrn-d-1", "name": "Second"}, nil)
	evs := tc.eventsSince(t, n)
	if c := count(evs, func(e *audit.Event) bool { return e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeSuccess }); c != 0 {
		t.Fatalf("a refused create left %d create success events", c)
	}
	if c := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeFailure && e.Reason == "mrn_exists"
	}); c != 1 {
		t.Fatalf("%d mrn_exists failures, want 1", c)
	}
	if k := tc.keysets(t); k != keys {
		t.Fatalf("a refused create left %d keysets behind", k-keys)
	}

	// An update to a taken MRN: each attempted field is a failed update.
	other := newPatient(t, doc, "MRN-D-3", "Third")
	n = len(tc.events(t))
	doc.mustStatus(http.StatusConflict, "PUT", "/api/patients/"+other, map[string]string{"mrn": "MRN-D-1", "zip": "10001"}, nil)
	evs = tc.eventsSince(t, n)
	if c := count(evs, func(e *audit.Event) bool { return e.Action == audit.ActionUpdate && e.Outcome == audit.OutcomeSuccess }); c != 0 {
		t.Fatalf("a refused update left %d update success events", c)
	}
	if c := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionUpdate && e.Outcome == audit.OutcomeFailure && e.Reason == "mrn_exists" &&
			e.Target.Subject == other && (e.Target.Field == "mrn" || e.Target.Field == "zip") && e.Change == nil
	}); c != 2 {
		t.Fatalf("%d failed field updates, want 2 (mrn, zip)", c)
	}

	// Concurrent creates of one new MRN behind a barrier: one wins.
	const racers = 12
	keys, n = tc.keysets(t), len(tc.events(t))
	start := make(chan struct{})
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			statuses[i], _ = doc.raw("POST", "/api/patients", map[string]string{"mrn": "MRN-D-2", "name": "Racer", "zip": "02139"})
		})
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for _, st := range statuses {
		switch st {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("status %d", st)
		}
	}
	evs = tc.eventsSince(t, n)
	successes := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeSuccess && e.Target.Field != ""
	})
	failures := count(evs, func(e *audit.Event) bool {
		return e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeFailure && e.Reason == "mrn_exists"
	})
	if created != 1 || conflicts != racers-1 || successes != 3 || failures != racers-1 {
		t.Fatalf("%d created, %d conflicts; %d field create events (want 3), %d mrn_exists failures", created, conflicts, successes, failures)
	}
	if k := tc.keysets(t); k != keys+1 {
		t.Fatalf("%d keysets added, want 1 (the winner's)", k-keys)
	}
}

func TestConcurrentNotesRecordedTruthfully(t *testing.T) {
	onEveryStore(t, testConcurrentNotesRecordedTruthfully)
}

// 300 concurrent note writes to one patient: those that lose the version
// race answer 409 and are recorded as failed creates; exactly the stored
// notes are recorded as created.
func testConcurrentNotesRecordedTruthfully(t *testing.T, s storeSetup) {
	tc := startClinicWith(t, s.cfg, nil, nil)
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-N-1", "Notes Patient")
	n := len(tc.events(t))
	const writers = 300
	start := make(chan struct{})
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			statuses[i], _ = doc.raw("POST", "/api/patients/"+id+"/notes", map[string]string{"value": "note"})
		})
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for _, st := range statuses {
		switch st {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("status %d", st)
		}
	}
	p, err := tc.app.records.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	evs := tc.eventsSince(t, n)
	isNote := func(e *audit.Event) bool { return e.Target.Field == "note" && e.Target.Subject == id }
	successes := count(evs, func(e *audit.Event) bool {
		return isNote(e) && e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeSuccess
	})
	failures := count(evs, func(e *audit.Event) bool {
		return isNote(e) && e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeFailure && e.Reason == "conflict"
	})
	t.Logf("%d notes stored, %d conflicts", len(p.Notes), conflicts)
	if created+conflicts != writers || len(p.Notes) != created || successes != created || failures != conflicts {
		t.Fatalf("%d created + %d conflicts of %d; %d notes stored; %d create success events, %d failure events",
			created, conflicts, writers, len(p.Notes), successes, failures)
	}
	// Every create success names a stored note.
	stored := map[string]bool{}
	for _, e := range p.Notes {
		stored[e.ID] = true
	}
	for _, e := range evs {
		if isNote(&e) && e.Action == audit.ActionCreate && e.Outcome == audit.OutcomeSuccess && !stored[e.Target.RecordID] {
			t.Fatalf("create success for note %s, which is not stored", e.Target.RecordID)
		}
	}
}

// A change the trail refuses is undone: a create leaves no record and no
// keyset, a note is not stored (503 each).
func TestUnauditedChangesAreUndone(t *testing.T) {
	t.Parallel()
	sw := &switchWriter{}
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	tc := startClinicClock(t, testConfig(t.TempDir()), clk, clk, nil, func(a *app) {
		sw.next = a.clinic.audit
		a.clinic.audit = sw
	})
	doc := tc.login(rolePhysician)
	id := newPatient(t, doc, "MRN-U-1", "Undo Patient")
	ids, err := tc.app.records.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys := tc.keysets(t)
	sw.fail.Store(true)
	if st, _ := doc.raw("POST", "/api/patients", map[string]string{"mrn": "MRN-U-2", "name": "Never"}); st != http.StatusServiceUnavailable {
		t.Fatalf("create with the trail down: %d", st)
	}
	if st, _ := doc.raw("POST", "/api/patients/"+id+"/notes", map[string]string{"value": "unrecorded"}); st != http.StatusServiceUnavailable {
		t.Fatalf("note with the trail down: %d", st)
	}
	sw.fail.Store(false)
	after, err := tc.app.records.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(ids) || tc.keysets(t) != keys {
		t.Fatalf("an unaudited create stayed: %d records (was %d), %d keysets (was %d)", len(after), len(ids), tc.keysets(t), keys)
	}
	doc.mustStatus(http.StatusNotFound, "POST", "/api/patients/search", map[string]string{"mrn": "MRN-U-2"}, nil)
	p, err := tc.app.records.Get(context.Background(), id)
	if err != nil || len(p.Notes) != 0 {
		t.Fatalf("an unaudited note stayed: %v, %d notes", err, len(p.Notes))
	}
}
