package retention_test

import (
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/retention"
)

func ExampleEvaluate() {
	policies := retention.MustPolicies(
		retention.Policy{Kind: "encounter", Keep: retention.Period{Years: 6}},
		retention.AuditPolicy,
	)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	records := []retention.Record{
		{ID: "e1", Kind: "encounter", Subject: "patient-1", Created: day(2018, 5, 1)},
		{ID: "e2", Kind: "encounter", Subject: "patient-2", Created: day(2018, 5, 1), LastInEffect: day(2024, 2, 29)},
		{ID: "e3", Kind: "encounter", Subject: "patient-3", Created: day(2018, 5, 1)},
		{ID: "x1", Kind: "invoice", Subject: "patient-4", Created: day(2001, 1, 1)},
	}
	holds := []retention.Hold{{ID: "hold-1", Subject: "patient-3", Reason: "litigation", SetBy: "counsel"}}

	plan := retention.Evaluate(records, policies, holds, day(2026, 1, 1))
	for _, d := range plan.Records {
		due := "-"
		if !d.Due.IsZero() {
			due = d.Due.Format("2006-01-02")
		}
		fmt.Println(d.Record.ID, d.Action, d.Reason, due)
	}
	for _, s := range plan.Shreds() {
		fmt.Println("shred", s.Subject)
	}
	// Output:
	// e1 dispose retention_expired 2024-05-01
	// e2 keep retention_active 2030-03-01
	// e3 keep legal_hold -
	// x1 keep no_policy -
	// shred patient-1
}

func ExamplePeriod_AddTo() {
	leapDay := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	fmt.Println(retention.Period{Years: 1}.AddTo(leapDay).Format("2006-01-02"))
	fmt.Println(retention.Period{Years: 4}.AddTo(leapDay).Format("2006-01-02"))
	fmt.Println(retention.Period{Months: 1}.AddTo(time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)).Format("2006-01-02"))
	// Output:
	// 2025-03-01
	// 2028-02-29
	// 2025-03-01
}
