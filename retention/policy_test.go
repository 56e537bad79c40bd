package retention

import (
	"errors"
	"testing"
	"time"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestPeriodAddToLeapDay(t *testing.T) {
	cases := []struct {
		name string
		from time.Time
		p    Period
		want time.Time
	}{
		// The rule: a day the target month lacks rolls forward to the 1st of
		// the next month (keeps longer than clamping to Feb 28 would).
		{"leap day + 1y", day(2024, 2, 29), Period{Years: 1}, day(2025, 3, 1)},
		{"leap day + 6y", day(2024, 2, 29), Period{Years: 6}, day(2030, 3, 1)},
		{"leap day + 4y lands on leap day", day(2024, 2, 29), Period{Years: 4}, day(2028, 2, 29)},
		{"leap day + 12m", day(2024, 2, 29), Period{Months: 12}, day(2025, 3, 1)},
		{"Feb 28 + 1y", day(2023, 2, 28), Period{Years: 1}, day(2024, 2, 28)},
		{"Jan 31 + 1m", day(2025, 1, 31), Period{Months: 1}, day(2025, 3, 1)},
		{"Jan 31 + 1m in leap year", day(2024, 1, 31), Period{Months: 1}, day(2024, 3, 1)},
		{"Jan 30 + 1m in leap year", day(2024, 1, 30), Period{Months: 1}, day(2024, 3, 1)},
		{"Jan 29 + 1m in leap year", day(2024, 1, 29), Period{Months: 1}, day(2024, 2, 29)},
		{"Dec 31 + 2m", day(2025, 12, 31), Period{Months: 2}, day(2026, 3, 1)},
		{"Aug 31 + 4m crosses year", day(2025, 8, 31), Period{Months: 4}, day(2025, 12, 31)},
		{"Oct 31 + 1m rolls into Dec", day(2025, 10, 31), Period{Months: 1}, day(2025, 12, 1)},
		{"Nov 30 + 13m", day(2025, 11, 30), Period{Years: 1, Months: 1}, day(2026, 12, 30)},
		{"days after months", day(2024, 2, 29), Period{Years: 1, Days: 1}, day(2025, 3, 2)},
		{"plain days over leap", day(2024, 2, 28), Period{Days: 2}, day(2024, 3, 1)},
	}
	for _, tc := range cases {
		if got := tc.p.AddTo(tc.from); !got.Equal(tc.want) {
			t.Errorf("%s: %v + %v = %v, want %v", tc.name, tc.from.Format(time.DateOnly), tc.p, got.Format(time.DateOnly), tc.want.Format(time.DateOnly))
		}
	}
	// Time of day and zone: computed in UTC, time of day kept.
	ny := time.FixedZone("EST", -5*3600)
	got := Period{Years: 1}.AddTo(time.Date(2024, 2, 28, 22, 15, 0, 0, ny)) // 2024-02-29 03:15 UTC
	if want := time.Date(2025, 3, 1, 3, 15, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("zoned: got %v, want %v", got, want)
	}
}

// The rule never ends retention before Go's own normalisation or the
// clamp-to-month-end alternative would: it is the conservative choice.
func TestPeriodAddToNeverEarlierThanAlternatives(t *testing.T) {
	start := day(2019, 1, 1)
	for i := 0; i < 3*366; i++ {
		from := start.AddDate(0, 0, i)
		for _, p := range []Period{{Years: 1}, {Years: 6}, {Months: 1}, {Months: 7}, {Years: 2, Months: 11, Days: 3}} {
			got := p.AddTo(from)
			clamp := clampAdd(from, p)
			if got.Before(clamp) {
				t.Fatalf("%v + %v = %v, earlier than clamped %v", from, p, got, clamp)
			}
			if got.Sub(clamp) > 72*time.Hour {
				t.Fatalf("%v + %v = %v, more than 3 days after clamped %v", from, p, got, clamp)
			}
		}
	}
}

// clampAdd is the alternative rule: clamp to the target month's last day.
func clampAdd(t time.Time, p Period) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).AddDate(p.Years, p.Months, 0)
	if last := daysIn(first.Year(), first.Month()); d > last {
		d = last
	}
	return time.Date(first.Year(), first.Month(), d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, p.Days)
}

func TestParsePeriod(t *testing.T) {
	good := map[string]Period{"P6Y": {Years: 6}, "P18M": {Months: 18}, "P1Y30D": {Years: 1, Days: 30}, "P1Y2M3D": {1, 2, 3}, "P0Y1D": {Days: 1}}
	for s, want := range good {
		got, err := ParsePeriod(s)
		if err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", s, got, err, want)
		}
		if s != "P0Y1D" && got.String() != s {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), s)
		}
	}
	for _, s := range []string{"", "P", "6Y", "P6", "PY", "P1M1Y", "P1Y1Y", "P1W", "PT1H", "P-1Y", "P0Y", "P1234567Y", "P1Y "} {
		if _, err := ParsePeriod(s); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("ParsePeriod(%q) = %v, want ErrInvalidPolicy", s, err)
		}
	}
}

func TestNewPoliciesValidates(t *testing.T) {
	if _, err := NewPolicies(Policy{Kind: "a", Keep: Period{Years: 1}}, Policy{Kind: "a", Keep: Period{Years: 2}}); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("duplicate kind: %v", err)
	}
	for _, p := range []Policy{{Kind: "", Keep: Period{Years: 1}}, {Kind: "Bad Kind", Keep: Period{Years: 1}}, {Kind: "a"}, {Kind: "a", Keep: Period{Years: -1, Days: 400}}} {
		if _, err := NewPolicies(p); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("NewPolicies(%+v) = %v", p, err)
		}
	}
	ps := MustPolicies(Policy{Kind: "b", Keep: Period{Days: 1}}, AuditPolicy)
	if all := ps.All(); len(all) != 2 || all[0].Kind != KindAudit {
		t.Fatalf("All() = %+v", all)
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"P6Y", "P18M", "P1Y30D", "P1Y2M3D", "P0Y1D", "PT1H", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if p.IsZero() || p.Years < 0 || p.Months < 0 || p.Days < 0 {
			t.Fatalf("accepted %q as %+v", s, p)
		}
		back, err := ParsePeriod(p.String())
		if err != nil || back != p {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, p, p.String(), back, err)
		}
		// Adding it never moves a time backwards.
		from := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
		if p.AddTo(from).Before(from) {
			t.Fatalf("%v moved time backwards", p)
		}
	})
}
