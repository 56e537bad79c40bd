package breach_test

import (
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/breach"
)

func incident(discovered, zone string, extra map[breach.Field]string) *breach.Incident {
	inc := &breach.Incident{ID: "INC-T", Fields: map[breach.Field]string{breach.FieldDiscoveredOn: discovered, breach.FieldTimeZone: zone,
		breach.FieldEntity: string(breach.CoveredEntity), breach.FieldStatus: string(breach.StatusOpen)}}
	for f, v := range extra {
		inc.Fields[f] = v
	}
	return inc
}

func counts(byState map[string]int, insufficient int) breach.Counts {
	c := breach.Counts{ByState: byState, InsufficientContact: insufficient}
	for _, n := range byState {
		c.Total += n
	}
	return c
}

type due struct {
	kind  breach.NoticeKind
	state string
	due   string
}

func TestPlanDeadlines(t *testing.T) {
	cases := []struct {
		name   string
		inc    *breach.Incident
		counts breach.Counts
		want   []due
	}{
		{"small breach: annual log after the year end", incident("2026-03-02", "America/New_York", nil), counts(map[string]int{"NY": 40}, 0),
			[]due{{breach.NoticeIndividuals, "", "2026-05-01"}, {breach.NoticeHHSAnnual, "", "2027-03-01"}}},
		{"60 days across a year end, annual log in a leap February", incident("2027-12-15", "America/Chicago", nil), counts(map[string]int{"IL": 3}, 0),
			[]due{{breach.NoticeIndividuals, "", "2028-02-13"}, {breach.NoticeHHSAnnual, "", "2028-02-29"}}},
		{"discovered on New Year's Eve before a leap year", incident("2023-12-31", "UTC", nil), counts(map[string]int{"TX": 1}, 0),
			[]due{{breach.NoticeIndividuals, "", "2024-02-29"}, {breach.NoticeHHSAnnual, "", "2024-02-29"}}},
		{"discovered on leap day", incident("2028-02-29", "America/Los_Angeles", nil), counts(map[string]int{"CA": 2}, 0),
			[]due{{breach.NoticeIndividuals, "", "2028-04-29"}, {breach.NoticeHHSAnnual, "", "2029-03-01"}}},
		{"large breach: media for the State with more than 500, HHS now", incident("2026-11-20", "America/New_York", nil),
			counts(map[string]int{"CA": 600, "NV": 20, "NY": 500}, 12),
			[]due{{breach.NoticeIndividuals, "", "2027-01-19"}, {breach.NoticeSubstitute, "", "2027-01-19"},
				{breach.NoticeMedia, "CA", "2027-01-19"}, {breach.NoticeHHS, "", "2027-01-19"}}},
		{"exactly 500 in one State: HHS now, no media", incident("2026-01-10", "UTC", nil), counts(map[string]int{"OH": 500}, 0),
			[]due{{breach.NoticeIndividuals, "", "2026-03-11"}, {breach.NoticeHHS, "", "2026-03-11"}}},
		{"501 in one State: media", incident("2026-01-10", "UTC", nil), counts(map[string]int{"OH": 501}, 0),
			[]due{{breach.NoticeIndividuals, "", "2026-03-11"}, {breach.NoticeMedia, "OH", "2026-03-11"}, {breach.NoticeHHS, "", "2026-03-11"}}},
		{"law-enforcement delay past the deadline", incident("2026-03-02", "UTC", map[breach.Field]string{breach.FieldDelayUntil: "2026-06-30"}),
			counts(map[string]int{"NY": 4}, 0),
			[]due{{breach.NoticeIndividuals, "", "2026-06-30"}, {breach.NoticeHHSAnnual, "", "2027-03-01"}}},
		{"business associate notifies the covered entity", incident("2026-03-02", "UTC", map[breach.Field]string{breach.FieldEntity: string(breach.BusinessAssociate)}),
			counts(map[string]int{"NY": 900}, 0), []due{{breach.NoticeCoveredEntity, "", "2026-05-01"}}},
		{"low probability of compromise: no notice", incident("2026-03-02", "UTC", map[breach.Field]string{breach.FieldConclusion: string(breach.ConclusionLowProbability)}),
			counts(map[string]int{"NY": 900}, 0), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns, err := breach.Plan(c.inc, c.counts)
			if err != nil {
				t.Fatal(err)
			}
			if len(ns) != len(c.want) {
				t.Fatalf("%d notices %+v, want %d", len(ns), ns, len(c.want))
			}
			for i, n := range ns {
				if w := c.want[i]; n.Kind != w.kind || n.State != w.state || n.Due != w.due {
					t.Errorf("notice %d = %s %s due %s, want %s %s due %s", i, n.Kind, n.State, n.Due, w.kind, w.state, w.due)
				}
			}
		})
	}
}

func TestDueByIsEndOfDayInZoneAcrossDST(t *testing.T) {
	// discovered a week before the United States' DST start: day 60 is
	// counted in dates, and DueBy is midnight EDT.
	ns, err := breach.Plan(incident("2026-03-01", "America/New_York", nil), counts(map[string]int{"NY": 1}, 3))
	if err != nil {
		t.Fatal(err)
	}
	n := ns[0]
	if n.Due != "2026-04-30" || !n.DueBy.Equal(time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %s by %s, want 2026-04-30 by 2026-05-01T04:00Z", n.Due, n.DueBy.UTC())
	}
	if n.Overdue(time.Date(2026, 5, 1, 3, 59, 59, 0, time.UTC)) || !n.Overdue(time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC)) {
		t.Fatal("Overdue does not switch at the end of the due day in the incident's zone")
	}
	if ns[1].Kind != breach.NoticeSubstitute || ns[1].Note == "" || ns[1].Count != 3 {
		t.Fatalf("substitute notice for 3: %+v", ns[1])
	}
}

func TestPlanRefusesMissingZone(t *testing.T) {
	if _, err := breach.Plan(incident("2026-03-01", "", nil), counts(map[string]int{"NY": 1}, 0)); err == nil {
		t.Fatal("Plan without a time zone succeeded")
	}
}

func TestNextNotice(t *testing.T) {
	// Not scoped yet: one individual of unknown State, due 60 days after
	// discovery.
	next, err := breach.NextNotice(incident("2026-03-01", "UTC", nil))
	if err != nil || next == nil {
		t.Fatalf("open incident: %v, %v", next, err)
	}
	if got := next.Due; next.Kind != breach.NoticeIndividuals || got != "2026-04-30" {
		t.Fatalf("next notice of an unscoped incident = %s due %s, want %s due 2026-04-30", next.Kind, got, breach.NoticeIndividuals)
	}
	for _, s := range []breach.Status{breach.StatusNotified, breach.StatusClosed} {
		next, err := breach.NextNotice(incident("2026-03-01", "UTC", map[breach.Field]string{breach.FieldStatus: string(s)}))
		if err != nil || next != nil {
			t.Fatalf("%s incident: next notice %v, %v; want none", s, next, err)
		}
	}
	if _, err := breach.NextNotice(incident("2026-03-01", "", nil)); err == nil {
		t.Fatal("an incident without a time zone planned a notice")
	}
}
