package retention

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// Period is a retention period in calendar units. Years and months are added
// first, then days; see Period.AddTo for the rule at month ends and leap days.
type Period struct {
	Years, Months, Days int
}

// IsZero reports whether p is the empty period.
func (p Period) IsZero() bool { return p.Years == 0 && p.Months == 0 && p.Days == 0 }

// String renders p as an ISO 8601 duration such as "P6Y" or "P1Y2M3D".
func (p Period) String() string {
	if p.IsZero() {
		return "P0D"
	}
	s := "P"
	if p.Years != 0 {
		s += fmt.Sprintf("%dY", p.Years)
	}
	if p.Months != 0 {
		s += fmt.Sprintf("%dM", p.Months)
	}
	if p.Days != 0 {
		s += fmt.Sprintf("%dD", p.Days)
	}
	return s
}

// AddTo returns t+p in UTC, keeping the time of day.
//
// When the years and months land on a day the target month does not have
// (February 29 plus one year, January 31 plus one month), the result rolls
// forward to the first day of the following month (March 1, March 1), never
// back to the month's last day: retention must never end before the full
// period has passed, so of the two candidates the rule keeps the later one.
// Days are then added as whole calendar days.
func (p Period) AddTo(t time.Time) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	months := int(m) - 1 + p.Months + 12*p.Years
	ty := y + floorDiv(months, 12)
	tm := time.Month(floorMod(months, 12) + 1)
	if d > daysIn(ty, tm) {
		// Roll forward: first day of the next month.
		d = 1
		tm++
		if tm > time.December {
			tm = time.January
			ty++
		}
	}
	hh, mm, ss := t.Clock()
	out := time.Date(ty, tm, d, hh, mm, ss, t.Nanosecond(), time.UTC)
	return out.AddDate(0, 0, p.Days)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

// Policy says how long records of one kind are kept.
type Policy struct {
	// Kind is the record kind the policy governs, e.g. "encounter" or "audit".
	Kind string
	// Keep is how long a record is kept after its anchor: the later of its
	// creation and its last-in-effect date.
	Keep Period
}

// Common policies. AuditPolicy is the 164.316(b)(2) six-year documentation
// retention that hipaakit applies by default to the audit trail: six
// calendar years as audit.SixYearsAfter defines them (Period.AddTo rolls
// February 29 forward to March 1 the same way). The audit purges refuse
// a KindAudit policy shorter than that (audit.ErrRetentionTooShort).
var (
	AuditPolicy = Policy{Kind: KindAudit, Keep: Period{Years: audit.DefaultRetentionYears}}
)

// KindAudit is the record kind of audit-trail segments and partitions.
const KindAudit = "audit"

// Errors returned when building a policy set.
var (
	// ErrInvalidPolicy reports a policy without a kind, with a negative or
	// empty period, or a kind governed twice.
	ErrInvalidPolicy = errors.New("retention: invalid policy")
)

// MaxKindLen is the longest record kind, in bytes.
const MaxKindLen = 64

// ValidKind reports whether kind is 1 to MaxKindLen bytes of lower-case ASCII
// letters, digits, '_', '-' and '.'.
func ValidKind(kind string) bool {
	if len(kind) == 0 || len(kind) > MaxKindLen {
		return false
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Policies is a validated set of policies, at most one per kind. The zero
// value governs no kind: every record is kept.
type Policies struct {
	byKind map[string]Policy
}

// NewPolicies validates ps and returns them as a set.
func NewPolicies(ps ...Policy) (Policies, error) {
	set := Policies{byKind: make(map[string]Policy, len(ps))}
	for _, p := range ps {
		if !ValidKind(p.Kind) {
			return Policies{}, fmt.Errorf("%w: kind must be 1-%d bytes of [a-z0-9_.-]", ErrInvalidPolicy, MaxKindLen)
		}
		if p.Keep.Years < 0 || p.Keep.Months < 0 || p.Keep.Days < 0 || p.Keep.IsZero() {
			return Policies{}, fmt.Errorf("%w: kind %s: keep period must be positive", ErrInvalidPolicy, p.Kind)
		}
		if _, dup := set.byKind[p.Kind]; dup {
			return Policies{}, fmt.Errorf("%w: kind %s has two policies", ErrInvalidPolicy, p.Kind)
		}
		set.byKind[p.Kind] = p
	}
	return set, nil
}

// MustPolicies is NewPolicies for policy sets fixed at compile time; it
// panics on an invalid set.
func MustPolicies(ps ...Policy) Policies {
	set, err := NewPolicies(ps...)
	if err != nil {
		panic(err)
	}
	return set
}

// For returns the policy for kind.
func (s Policies) For(kind string) (Policy, bool) {
	p, ok := s.byKind[kind]
	return p, ok
}

// All returns the policies ordered by kind.
func (s Policies) All() []Policy {
	out := make([]Policy, 0, len(s.byKind))
	for _, p := range s.byKind {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// ParsePeriod parses an ISO 8601 calendar period of years, months and days,
// such as "P6Y", "P18M" or "P1Y30D". Weeks and times of day are not accepted.
func ParsePeriod(s string) (Period, error) {
	bad := fmt.Errorf("%w: period must look like P6Y, P18M or P1Y30D", ErrInvalidPolicy)
	if len(s) < 3 || s[0] != 'P' {
		return Period{}, bad
	}
	var p Period
	n, digits, last := 0, 0, byte(0)
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits >= 6 {
				return Period{}, bad
			}
			n = n*10 + int(c-'0')
			digits++
		case c == 'Y' || c == 'M' || c == 'D':
			if digits == 0 || (last != 0 && order(c) <= order(last)) {
				return Period{}, bad
			}
			switch c {
			case 'Y':
				p.Years = n
			case 'M':
				p.Months = n
			case 'D':
				p.Days = n
			}
			n, digits, last = 0, 0, c
		default:
			return Period{}, bad
		}
	}
	if digits != 0 || p.IsZero() {
		return Period{}, bad
	}
	return p, nil
}

func order(c byte) int {
	switch c {
	case 'Y':
		return 1
	case 'M':
		return 2
	}
	return 3
}
