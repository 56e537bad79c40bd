package breach

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NoticeDays is the outer limit of every notice, in calendar days
// (164.404(b), 164.406(b), 164.408(b) and (c), 164.410(b)).
const NoticeDays = 60

// MediaThreshold: notice to prominent media outlets is owed for a State or
// jurisdiction with more than this many affected residents (164.406(a)).
const MediaThreshold = 500

// HHSThreshold: with this many affected individuals or more, HHS is
// notified with the individuals (164.408(b)); with fewer, in the annual
// log (164.408(c)).
const HHSThreshold = 500

// SubstituteThreshold: with this many individuals or more whose contact
// information is insufficient or out of date, substitute notice is a
// conspicuous web posting for 90 days or major print or broadcast media,
// with a toll-free number (164.404(d)(2)(ii)); with fewer, an alternative
// written, telephone or other notice (164.404(d)(2)(i)).
const SubstituteThreshold = 10

// NoticeKind names a required notice.
type NoticeKind string

// Notice kinds.
const (
	NoticeIndividuals   NoticeKind = "individuals"    // 164.404
	NoticeSubstitute    NoticeKind = "substitute"     // 164.404(d)(2)
	NoticeMedia         NoticeKind = "media"          // 164.406, one per State
	NoticeHHS           NoticeKind = "hhs"            // 164.408(b)
	NoticeHHSAnnual     NoticeKind = "hhs_annual_log" // 164.408(c)
	NoticeCoveredEntity NoticeKind = "covered_entity" // 164.410, by a business associate
)

// Notice is one required notice and its deadline.
type Notice struct {
	Kind  NoticeKind `json:"kind"`
	Rule  string     `json:"rule"`
	State string     `json:"state,omitempty"` // for media notices
	Count int        `json:"count"`           // individuals it concerns
	// Due is the last calendar day (YYYY-MM-DD, in the incident's time
	// zone) on which the notice is timely; DueBy is the instant that day
	// ends, in that zone.
	Due   string    `json:"due"`
	DueBy time.Time `json:"due_by"`
	// Delayed is set when a law-enforcement delay (164.412) moved Due.
	Delayed bool   `json:"delayed,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Overdue reports whether the notice is late at now.
func (n *Notice) Overdue(now time.Time) bool { return !now.Before(n.DueBy) }

// Residence is what the application knows of an affected subject for
// counting: the State or jurisdiction of residence (a USPS code such as
// "NY"; "" when unknown) and whether its contact information suffices
// for written notice.
type Residence struct {
	State             string
	ContactSufficient bool
}

// Counts are the affected individuals, by State.
type Counts struct {
	Total               int            `json:"total"`
	ByState             map[string]int `json:"by_state"`
	UnknownState        int            `json:"unknown_state"`
	InsufficientContact int            `json:"insufficient_contact"`
}

// CountResidents counts the affected subjects of s through r (Locate only:
// no contact details are read). Shredded subjects whose residence the
// resolver no longer knows count as unknown State and insufficient contact.
func CountResidents(ctx context.Context, r Resolver, s *Scope) (Counts, error) {
	if r == nil {
		return Counts{}, invalid("resolver", "required")
	}
	c := Counts{ByState: map[string]int{}}
	for i := range s.Affected {
		res, err := r.Locate(ctx, s.Affected[i].Subject)
		if err != nil {
			return Counts{}, fmt.Errorf("%w: locate an affected subject (#%d of the scope)", ErrResolver, i+1)
		}
		c.Total++
		if st := strings.ToUpper(strings.TrimSpace(res.State)); st != "" {
			c.ByState[st]++
		} else {
			c.UnknownState++
		}
		if !res.ContactSufficient {
			c.InsufficientContact++
		}
	}
	return c, nil
}

// Plan lists the notices the incident requires for counts, with their
// deadlines, in a fixed order (individuals, substitute, media by State,
// HHS, covered entity). An incident not yet assessed is presumed a breach
// (164.402); one whose conclusion needs no notice requires none.
//
// Deadlines count calendar days in the incident's time zone from the
// discovery date: day 60 after it is the last timely day. The annual HHS
// log is due 60 days after December 31 of the year of discovery (March 1,
// or February 29 when that year is followed by a leap year). A
// law-enforcement delay (164.412) that ends after a deadline moves it to
// the day the delay ends; notices are then owed without unreasonable
// delay.
func Plan(inc *Incident, c Counts) ([]Notice, error) {
	if con := inc.Conclusion(); con != "" && !con.NeedsNotice() {
		return []Notice{}, nil
	}
	loc, err := inc.Location()
	if err != nil {
		return nil, err
	}
	disc, err := time.ParseInLocation(time.DateOnly, inc.Get(FieldDiscoveredOn), loc)
	if err != nil {
		return nil, invalid(string(FieldDiscoveredOn), "must be a date YYYY-MM-DD")
	}
	var delay time.Time
	if v := inc.Get(FieldDelayUntil); v != "" {
		if delay, err = time.ParseInLocation(time.DateOnly, v, loc); err != nil {
			return nil, invalid(string(FieldDelayUntil), "must be a date YYYY-MM-DD")
		}
	}
	mk := func(kind NoticeKind, rule string, count int, due time.Time) Notice {
		n := Notice{Kind: kind, Rule: rule, Count: count}
		if !delay.IsZero() && delay.After(due) {
			due, n.Delayed = delay, true
		}
		n.Due = due.Format(time.DateOnly)
		n.DueBy = time.Date(due.Year(), due.Month(), due.Day()+1, 0, 0, 0, 0, loc)
		return n
	}
	day60 := AddCalendarDays(disc, NoticeDays)
	if inc.Entity() == BusinessAssociate {
		n := mk(NoticeCoveredEntity, "164.410", c.Total, day60)
		n.Note = "notify the covered entity, identifying each individual; it gives the other notices"
		return []Notice{n}, nil
	}
	out := []Notice{}
	if c.Total == 0 {
		return out, nil
	}
	out = append(out, mk(NoticeIndividuals, "164.404", c.Total, day60))
	if c.InsufficientContact > 0 {
		n := mk(NoticeSubstitute, "164.404(d)(2)", c.InsufficientContact, day60)
		if c.InsufficientContact >= SubstituteThreshold {
			n.Note = "web posting for 90 days or major print or broadcast media, with a toll-free number for 90 days"
		} else {
			n.Note = "alternative written, telephone or other notice"
		}
		out = append(out, n)
	}
	states := make([]string, 0, len(c.ByState))
	for st, k := range c.ByState {
		if k > MediaThreshold {
			states = append(states, st)
		}
	}
	slices.Sort(states)
	for _, st := range states {
		n := mk(NoticeMedia, "164.406", c.ByState[st], day60)
		n.State = st
		n.Note = "prominent media outlets serving " + st + " (more than " + strconv.Itoa(MediaThreshold) + " residents)"
		out = append(out, n)
	}
	if c.Total >= HHSThreshold {
		out = append(out, mk(NoticeHHS, "164.408(b)", c.Total, day60))
	} else {
		yearEnd := time.Date(disc.Year(), 12, 31, 0, 0, 0, 0, loc)
		n := mk(NoticeHHSAnnual, "164.408(c)", c.Total, AddCalendarDays(yearEnd, NoticeDays))
		n.Note = "annual log of breaches of fewer than " + strconv.Itoa(HHSThreshold) + " individuals discovered in " + strconv.Itoa(disc.Year())
		out = append(out, n)
	}
	return out, nil
}

// AddCalendarDays returns the date n calendar days after day (midnight in
// day's location), counting dates, never 24-hour periods, so daylight
// saving changes do not move it.
func AddCalendarDays(day time.Time, n int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day()+n, 0, 0, 0, 0, day.Location())
}

// Earliest returns the notice due first (ties: list order), or nil.
func Earliest(ns []Notice) *Notice {
	if len(ns) == 0 {
		return nil
	}
	i := 0
	for j := range ns {
		if cmp.Compare(ns[j].DueBy.UnixNano(), ns[i].DueBy.UnixNano()) < 0 {
			i = j
		}
	}
	return &ns[i]
}

// NextNotice returns the notice inc owes first, or nil when it owes none
// (notified, closed, or no notice due). An incident not scoped yet is
// planned as one affected individual of unknown State: the deadlines run
// from discovery all the same.
func NextNotice(inc *Incident) (*Notice, error) {
	if s := inc.Status(); s == StatusNotified || s == StatusClosed {
		return nil, nil
	}
	n := inc.Affected()
	if inc.Get(FieldScopeDigest) == "" {
		n = 1
	}
	ns, err := Plan(inc, Counts{Total: n, UnknownState: n})
	if err != nil {
		return nil, err
	}
	return Earliest(ns), nil
}
