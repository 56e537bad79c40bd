package audit

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Page sizes for Query.
const (
	// DefaultPageSize is the page size of a Filter whose Limit is 0.
	DefaultPageSize = 100
	// MaxPageSize is the largest Filter.Limit.
	MaxPageSize = 10000
	// MaxFilterActions is the most actions one Filter may name.
	MaxFilterActions = 64
)

// ErrInvalidFilter reports a Filter that fails Validate. The detail is a
// *FilterError, which never carries the offending value.
var ErrInvalidFilter = errors.New("audit: invalid filter")

// FilterError details an ErrInvalidFilter.
type FilterError struct {
	Field  string // e.g. "subject", "until"
	Reason string
}

func (e *FilterError) Error() string { return "audit: invalid filter: " + e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidFilter) true.
func (e *FilterError) Unwrap() error { return ErrInvalidFilter }

// Filter selects audit records. Every set field must match exactly (byte for
// byte, no patterns, no case folding), so hostile values such as quotes,
// '%', '_' or SQL fragments match only records holding that very text. Zero
// fields match everything.
type Filter struct {
	Stream     string    // the record's stream
	Subject    string    // Event.Target.Subject: the patient
	ActorID    string    // Event.Actor.UserID
	RecordType string    // Event.Target.RecordType
	RecordID   string    // Event.Target.RecordID
	Actions    []Action  // any of these actions; empty means all
	Outcome    Outcome   // "" (both), OutcomeSuccess or OutcomeFailure
	Since      time.Time // Event.Time >= Since, when set
	Until      time.Time // Event.Time < Until, when set

	// After resumes a listing: only records that come after this position
	// in the listing order (see Searcher) are returned. Use Page.Next.
	After Cursor
	// Descending reverses the listing order: newest first (Event.Time,
	// then stream, then sequence number, all descending), and After then
	// resumes with the records before the cursor. Export ignores it, so
	// that an export keeps chain order and verifies; SearchChain refuses it.
	Descending bool
	// Limit is the page size for Query (0 means DefaultPageSize, at most
	// MaxPageSize) and the most records a Searcher yields (0: no limit).
	Limit int
}

// Validate checks f: strings within MaxStringLen, valid UTF-8 and without
// NUL bytes; well-formed stream and actions; a known outcome; Since before
// Until; Limit within 0..MaxPageSize. Errors are *FilterError.
func (f *Filter) Validate() error { return f.validate(MaxPageSize) }

// MaxSearchLimit is the largest Filter.Limit a Searcher receives: Query asks
// for one record more than its page to learn whether another page follows.
const MaxSearchLimit = MaxPageSize + 1

// ValidateSearch is Validate for Searcher implementations: the same checks,
// with Limit allowed up to MaxSearchLimit.
func (f *Filter) ValidateSearch() error { return f.validate(MaxSearchLimit) }

func (f *Filter) validate(maxLimit int) error {
	strs := [...]struct{ name, v string }{
		{"subject", f.Subject}, {"actor", f.ActorID}, {"record_type", f.RecordType}, {"record_id", f.RecordID},
	}
	for _, s := range strs {
		if len(s.v) > MaxStringLen {
			return &FilterError{s.name, "longer than " + strconv.Itoa(MaxStringLen) + " bytes"}
		}
		if !utf8.ValidString(s.v) || strings.IndexByte(s.v, 0) >= 0 {
			return &FilterError{s.name, "not valid UTF-8 text"}
		}
	}
	if f.Stream != "" && !ValidStream(f.Stream) {
		return &FilterError{"stream", "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
	}
	if len(f.Actions) > MaxFilterActions {
		return &FilterError{"actions", "more than " + strconv.Itoa(MaxFilterActions)}
	}
	for _, a := range f.Actions {
		if !ValidAction(a) {
			return &FilterError{"actions", "each must be 1-64 lower-case letters, digits, '_' or '.', starting with a letter"}
		}
	}
	if f.Outcome != "" && f.Outcome != OutcomeSuccess && f.Outcome != OutcomeFailure {
		return &FilterError{"outcome", `must be "success" or "failure"`}
	}
	for _, t := range [...]struct {
		name string
		v    time.Time
	}{{"since", f.Since}, {"until", f.Until}} {
		if !t.v.IsZero() && (t.v.UTC().Year() < 1 || t.v.UTC().Year() > 9999) {
			return &FilterError{t.name, "year outside 1-9999"}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return &FilterError{"until", "must be after since"}
	}
	if f.Limit < 0 || f.Limit > maxLimit {
		return &FilterError{"limit", "must be between 0 and " + strconv.Itoa(maxLimit)}
	}
	if !f.After.IsZero() {
		if err := f.After.check(); err != nil {
			return &FilterError{"after", "not a valid cursor"}
		}
	}
	return nil
}

// Match reports whether r satisfies f's field and time conditions (it does
// not look at After or Limit, which concern the listing).
func (f *Filter) Match(r *Record) bool {
	e := &r.Event
	switch {
	case f.Stream != "" && r.Stream != f.Stream,
		f.Subject != "" && e.Target.Subject != f.Subject,
		f.ActorID != "" && e.Actor.UserID != f.ActorID,
		f.RecordType != "" && e.Target.RecordType != f.RecordType,
		f.RecordID != "" && e.Target.RecordID != f.RecordID,
		f.Outcome != "" && e.Outcome != f.Outcome,
		len(f.Actions) > 0 && !slices.Contains(f.Actions, e.Action),
		!f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	}
	return true
}

// Follows reports whether a record at position c comes after f.After in
// f's listing order (ascending, or descending with f.Descending); every
// position follows the zero Cursor.
func (f *Filter) Follows(c Cursor) bool {
	return f.After.IsZero() || f.compare(c, f.After) > 0
}

// compare orders positions in f's listing order.
func (f *Filter) compare(c, d Cursor) int {
	if f.Descending {
		return d.Compare(c)
	}
	return c.Compare(d)
}

// Searcher answers filters over a store of records. The PostgreSQL store
// (audit/pgaudit) implements it, and ScanSearcher adapts any log that can be
// read from start to end, such as the file log.
//
// Search yields the records that match f (Filter.Match) and come after
// f.After, in ascending listing order — Event.Time, then stream, then
// sequence number (CursorOf gives a record's position), or descending with
// f.Descending — and stops after
// f.Limit records when f.Limit > 0. An error is yielded once, as the last
// pair, with a zero Record. f has been validated by the caller.
type Searcher interface {
	Search(ctx context.Context, f Filter) iter.Seq2[Record, error]
}

// Page is one page of a listing.
type Page struct {
	Records []Record
	// Next is the cursor of the next page (set it as Filter.After), or the
	// zero Cursor when this is the last page.
	Next Cursor
}

// Query returns one page of the records that match f, in listing order.
func Query(ctx context.Context, s Searcher, f Filter) (Page, error) {
	if err := f.Validate(); err != nil {
		return Page{}, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultPageSize
	}
	f.Limit = limit + 1
	var p Page
	for r, err := range s.Search(ctx, f) {
		if err != nil {
			return Page{}, err
		}
		if len(p.Records) == limit {
			p.Next = CursorOf(&p.Records[limit-1])
			break
		}
		p.Records = append(p.Records, r)
	}
	return p, nil
}
