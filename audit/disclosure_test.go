package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

func TestAccountingOfDisclosures(t *testing.T) {
	now := qBase.Add(24 * time.Hour)
	old := qEvent(0, "p1", "u-old", audit.ActionRead, audit.OutcomeSuccess)
	old.Time = now.AddDate(-audit.DefaultRetentionYears, 0, 0).Add(-time.Hour) // outside the six years
	emergency := qEvent(3, "p1", "u3", audit.ActionRead, audit.OutcomeSuccess)
	emergency.Actor.Emergency, emergency.Actor.EmergencyReason = true, "cardiac arrest"
	emergency.Purpose = "emergency_treatment"
	recs := qChain(t, "s1", []audit.Event{
		old,
		qEvent(1, "p1", "u1", audit.ActionRead, audit.OutcomeSuccess),
		qEvent(2, "p2", "u1", audit.ActionRead, audit.OutcomeSuccess), // another patient
		emergency,
		qEvent(4, "p1", "u2", audit.ActionExport, audit.OutcomeSuccess),
		qEvent(5, "p1", "u4", audit.ActionRead, audit.OutcomeFailure),  // denied
		qEvent(6, "p1", "u1", audit.ActionLogin, audit.OutcomeSuccess), // not a disclosure
		qEvent(7, "p1%", "u1", audit.ActionRead, audit.OutcomeSuccess), // look-alike subject
	})
	s := audit.MemorySearcher(recs)
	acc, err := audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Until.Equal(now) || !acc.Since.Equal(now.AddDate(-6, 0, 0)) || acc.Subject != "p1" {
		t.Fatalf("period %v-%v", acc.Since, acc.Until)
	}
	var got []string
	for _, d := range acc.Disclosures {
		got = append(got, fmt.Sprintf("%d %s %s %s %v", d.Seq, d.Actor.UserID, d.Action, d.Purpose, d.Actor.Emergency))
	}
	want := []string{"2 u1 read treatment false", "4 u3 read emergency_treatment true", "5 u2 export treatment false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if d := acc.Disclosures[1]; d.Actor.EmergencyReason != "cardiac arrest" || d.RecordType != "patient" || d.RecordID != "r-p1" || d.Stream != "s1" {
		t.Fatalf("%+v", d)
	}

	acc, err = audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Now: now, IncludeFailures: true})
	if err != nil || len(acc.Disclosures) != 4 || acc.Disclosures[3].Outcome != audit.OutcomeFailure {
		t.Fatalf("%+v %v", acc.Disclosures, err)
	}
	acc, err = audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{Subject: "p1", Since: qBase.Add(2 * time.Minute), Until: qBase.Add(4 * time.Minute)})
	if err != nil || len(acc.Disclosures) != 1 || acc.Disclosures[0].Seq != 4 {
		t.Fatalf("%+v %v", acc.Disclosures, err)
	}
	if _, err := audit.AccountingOfDisclosures(context.Background(), s, audit.AccountingRequest{}); !errors.Is(err, audit.ErrInvalidFilter) {
		t.Fatal(err)
	}
}

func ExampleAccountingOfDisclosures() {
	c, _ := audit.NewChain("api-1", 0, audit.Hash{}, nil)
	var recs []audit.Record
	for i, who := range []string{"dr-lee", "billing-7"} {
		r, _ := c.Next(audit.Event{Time: qBase.Add(time.Duration(i) * time.Hour), Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
			Actor: audit.Actor{UserID: who}, Target: audit.Target{Subject: "p-1", RecordType: "chart"}, Purpose: []string{"treatment", "payment"}[i]})
		recs = append(recs, r)
	}
	acc, _ := audit.AccountingOfDisclosures(context.Background(), audit.MemorySearcher(recs),
		audit.AccountingRequest{Subject: "p-1", Now: qBase.Add(24 * time.Hour)})
	for _, d := range acc.Disclosures {
		fmt.Println(d.Time.Format(time.DateTime), d.Actor.UserID, d.Action, d.RecordType, d.Purpose)
	}
	// Output:
	// 2026-01-01 00:00:00 dr-lee read chart treatment
	// 2026-01-01 01:00:00 billing-7 read chart payment
}
