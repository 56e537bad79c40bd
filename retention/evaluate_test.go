package retention

import (
	"reflect"
	"testing"
	"time"
)

func TestEvaluateReasons(t *testing.T) {
	policies := MustPolicies(
		Policy{Kind: "encounter", Keep: Period{Years: 6}},
		Policy{Kind: "lab", Keep: Period{Years: 1}},
		AuditPolicy,
	)
	now := day(2031, 1, 1)
	recs := []Record{
		{ID: "e1", Kind: "encounter", Subject: "p1", Created: day(2020, 1, 1)},                                // 0 expired 2026
		{ID: "l1", Kind: "lab", Subject: "p1", Created: day(2024, 1, 1), LastInEffect: day(2029, 6, 1)},       // 1 expired 2030-06
		{ID: "e2", Kind: "encounter", Subject: "p2", Created: day(2020, 1, 1), LastInEffect: day(2026, 1, 1)}, // 2 active until 2032
		{ID: "l2", Kind: "lab", Subject: "p2", Created: day(2020, 1, 1)},                                      // 3 expired, p2 kept
		{ID: "x1", Kind: "invoice", Subject: "p3", Created: day(2000, 1, 1)},                                  // 4 no policy
		{ID: "e3", Kind: "encounter", Subject: "p4", Created: day(2000, 1, 1)},                                // 5 held
		{ID: "e4", Kind: "encounter", Subject: "p5"},                                                          // 6 no date
		{ID: "seg-1", Kind: "audit", Created: day(2024, 2, 29)},                                               // 7 expires 2030-03-01
		{ID: "seg-2", Kind: "audit", Created: day(2025, 2, 1)},                                                // 8 active
		{ID: "l3", Kind: "lab", Subject: "p6", Created: day(2000, 1, 1)},                                      // 9 held by kind+subject
		{ID: "e5", Kind: "encounter", Subject: "p6", Created: day(2000, 1, 1)},                                // 10 expired; p6 kept
		{ID: "e6", Kind: "encounter", Subject: "p7", Created: day(2000, 1, 1)},                                // 11 lifted hold ignored
	}
	holds := []Hold{
		{ID: "h1", Subject: "p4", Reason: "litigation", SetBy: "u1"},
		{ID: "h2", Subject: "p6", Kind: "lab", Reason: "subpoena", SetBy: "u1"},
		{ID: "h3", Subject: "p7", Reason: "old", SetBy: "u1", LiftedAt: day(2030, 1, 1)},
		{ID: "h4", Kind: "invoice", Reason: "tax audit", SetBy: "u2"},
	}
	plan := Evaluate(recs, policies, holds, now)
	want := []struct {
		action Action
		reason string
		hold   string
	}{
		{Dispose, ReasonExpired, ""},
		{Dispose, ReasonExpired, ""},
		{Keep, ReasonActive, ""},
		{Dispose, ReasonExpired, ""},
		{Keep, ReasonLegalHold, "h4"},
		{Keep, ReasonLegalHold, "h1"},
		{Keep, ReasonNoDate, ""},
		{Dispose, ReasonExpired, ""},
		{Keep, ReasonActive, ""},
		{Keep, ReasonLegalHold, "h2"},
		{Dispose, ReasonExpired, ""},
		{Dispose, ReasonExpired, ""},
	}
	if len(plan.Records) != len(want) {
		t.Fatalf("%d decisions for %d records", len(plan.Records), len(recs))
	}
	for i, w := range want {
		d := plan.Records[i]
		if d.Record.ID != recs[i].ID || d.Action != w.action || d.Reason != w.reason || d.HoldID != w.hold {
			t.Errorf("record %s: %s/%s/%q, want %s/%s/%q", recs[i].ID, d.Action, d.Reason, d.HoldID, w.action, w.reason, w.hold)
		}
	}
	if got := plan.Records[7].Due; !got.Equal(day(2030, 3, 1)) {
		t.Errorf("leap-day audit segment due %v, want 2030-03-01", got)
	}
	if got := plan.Records[2].Due; !got.Equal(day(2032, 1, 1)) {
		t.Errorf("last-in-effect anchor: due %v, want 2032-01-01", got)
	}
	gotSubjects := map[string]SubjectDecision{}
	for _, s := range plan.Subjects {
		gotSubjects[s.Subject] = s
	}
	wantSubjects := map[string]SubjectDecision{
		"p1": {Subject: "p1", Action: Dispose, Reason: ReasonAllExpired, Kinds: []string{"encounter", "lab"}},
		"p2": {Subject: "p2", Action: Keep, Reason: ReasonRecordRetained, Kinds: []string{"encounter", "lab"}},
		"p3": {Subject: "p3", Action: Keep, Reason: ReasonLegalHold, Kinds: []string{"invoice"}, HoldID: "h4"},
		"p4": {Subject: "p4", Action: Keep, Reason: ReasonLegalHold, Kinds: []string{"encounter"}, HoldID: "h1"},
		"p5": {Subject: "p5", Action: Keep, Reason: ReasonRecordRetained, Kinds: []string{"encounter"}},
		"p6": {Subject: "p6", Action: Keep, Reason: ReasonLegalHold, Kinds: []string{"encounter", "lab"}, HoldID: "h2"},
		"p7": {Subject: "p7", Action: Dispose, Reason: ReasonAllExpired, Kinds: []string{"encounter"}},
	}
	if !reflect.DeepEqual(gotSubjects, wantSubjects) {
		t.Errorf("subjects:\n got %+v\nwant %+v", gotSubjects, wantSubjects)
	}
	if sh := plan.Shreds(); len(sh) != 2 || sh[0].Subject != "p1" || sh[1].Subject != "p7" {
		t.Errorf("Shreds() = %+v", sh)
	}
	for i := 1; i < len(plan.Subjects); i++ {
		if plan.Subjects[i-1].Subject >= plan.Subjects[i].Subject {
			t.Fatal("subjects not sorted")
		}
	}
}

// The boundary: a record becomes disposable exactly at its due instant.
func TestEvaluateBoundary(t *testing.T) {
	ps := MustPolicies(Policy{Kind: "k", Keep: Period{Years: 1}})
	r := []Record{{ID: "1", Kind: "k", Subject: "s", Created: time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC)}}
	due := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	if d := Evaluate(r, ps, nil, due.Add(-time.Nanosecond)).Records[0]; d.Action != Keep {
		t.Fatalf("1ns before due: %v", d.Action)
	}
	if d := Evaluate(r, ps, nil, due).Records[0]; d.Action != Dispose {
		t.Fatalf("at due: %v", d.Action)
	}
	// Feb 28 2025 (the non-conservative reading) must still keep.
	if d := Evaluate(r, ps, nil, time.Date(2025, 2, 28, 23, 59, 0, 0, time.UTC)).Records[0]; d.Action != Keep {
		t.Fatalf("Feb 28: %v", d.Action)
	}
}

func TestEvaluateIsPureAndEmptySafe(t *testing.T) {
	p := Evaluate(nil, Policies{}, nil, time.Time{})
	if len(p.Records) != 0 || len(p.Subjects) != 0 {
		t.Fatalf("empty plan: %+v", p)
	}
	// The zero Policies governs nothing: every record is kept.
	p = Evaluate([]Record{{ID: "1", Kind: "k", Subject: "s", Created: day(1990, 1, 1)}}, Policies{}, nil, day(2030, 1, 1))
	if p.Records[0].Action != Keep || p.Records[0].Reason != ReasonNoPolicy || p.Subjects[0].Action != Keep {
		t.Fatalf("zero policies: %+v", p)
	}
}

func TestHoldCovers(t *testing.T) {
	subj := Hold{ID: "a", Subject: "s1"}
	kind := Hold{ID: "b", Kind: "lab"}
	both := Hold{ID: "c", Subject: "s1", Kind: "lab"}
	lifted := Hold{ID: "d", Subject: "s1", LiftedAt: day(2020, 1, 1)}
	cases := []struct {
		h             Hold
		subject, kind string
		want          bool
	}{
		{subj, "s1", "lab", true}, {subj, "s1", "", true}, {subj, "s2", "", false}, {subj, "", "lab", true}, {subj, "", "", true},
		{kind, "s9", "lab", true}, {kind, "s9", "enc", false}, {kind, "s9", "", true}, {kind, "", "lab", true}, {kind, "", "enc", false},
		{both, "s1", "lab", true}, {both, "s1", "enc", false}, {both, "s2", "lab", false}, {both, "s1", "", true}, {both, "", "lab", true},
		{lifted, "s1", "lab", false}, {lifted, "", "", false},
	}
	for _, tc := range cases {
		if got := tc.h.Covers(tc.subject, tc.kind); got != tc.want {
			t.Errorf("hold %s covers (%q,%q) = %v, want %v", tc.h.ID, tc.subject, tc.kind, got, tc.want)
		}
	}
}
