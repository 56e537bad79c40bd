package audit

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
)

// History limits.
const (
	// DefaultHistoryLimit is the number of entries RecordHistory returns
	// when HistoryRequest.Limit is 0.
	DefaultHistoryLimit = 1000
	// MaxHistoryLimit is the largest HistoryRequest.Limit.
	MaxHistoryLimit = MaxPageSize
)

// changeActions are the actions a record's history lists by default.
var changeActions = []Action{ActionCreate, ActionUpdate, ActionDelete, ActionShred}

// ChangeActions returns the actions RecordHistory lists by default:
// create, update, delete and shred (the crypto-shredding of the subject,
// after which the sealed values are destroyed).
func ChangeActions() []Action { return append([]Action(nil), changeActions...) }

// Directory resolves the immutable user IDs recorded as Actor.UserID to the
// names a person reads in a history or report (for example the user store's
// login or display names). A directory holds names of the workforce and
// system actors, never PHI; it is consulted when a history is built and its
// answers are never written to the trail.
type Directory interface {
	// DisplayName returns the name of userID; ok is false for an ID the
	// directory does not know (a removed user, a system actor).
	DisplayName(ctx context.Context, userID string) (name string, ok bool, err error)
}

// DirectoryFunc adapts a function to a Directory.
type DirectoryFunc func(ctx context.Context, userID string) (string, bool, error)

// DisplayName calls f.
func (f DirectoryFunc) DisplayName(ctx context.Context, userID string) (string, bool, error) {
	return f(ctx, userID)
}

// ErrDirectory reports that the Directory failed while a history was built.
// The detail is a *DirectoryError.
var ErrDirectory = errors.New("audit: directory lookup failed")

// DirectoryError details an ErrDirectory: which actor could not be looked
// up (a user ID, never PHI) and why.
type DirectoryError struct {
	UserID string
	Err    error
}

func (e *DirectoryError) Error() string {
	return "audit: directory lookup of actor " + strconv.Quote(e.UserID) + " failed: " + e.Err.Error()
}

// Unwrap returns ErrDirectory and the directory's error.
func (e *DirectoryError) Unwrap() []error { return []error{ErrDirectory, e.Err} }

// HistoryRequest asks for the change history of one record, and optionally
// of one of its data elements.
type HistoryRequest struct {
	// Subject (Target.Subject, the patient) and/or RecordType and RecordID
	// (Target.RecordType, Target.RecordID) select the record; at least
	// Subject or RecordID is required. Matching is exact, as in a Filter.
	Subject    string
	RecordType string
	RecordID   string
	// Field, when set, narrows the history to one data element
	// (Target.Field); events about the whole subject, which name no field
	// and no record (a shred), are kept, since they concern every field.
	Field string
	// Actions replaces ChangeActions when set.
	Actions []Action
	// Outcome is "" (both: failed attempts are part of a history),
	// OutcomeSuccess or OutcomeFailure.
	Outcome Outcome
	// Since and Until bound Event.Time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Limit is the most entries returned (0: DefaultHistoryLimit; at most
	// MaxHistoryLimit). History.Truncated reports that more followed; ask
	// again with Since after the last entry's time to read on.
	Limit int
	// Directory, when set, names each actor (HistoryEntry.ActorName).
	Directory Directory
}

// HistoryEntry is one change of a record's history: who (Actor and, from
// the Directory, ActorName), when (Time), how (Channel, Route, RequestID),
// what (Action on RecordType, RecordID and Field, with Outcome and Reason)
// and whether the sealed new and prior values were recorded. Stream and Seq
// locate the audit record in the verified trail.
type HistoryEntry struct {
	Time      time.Time `json:"time"`
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Action    Action    `json:"action"`
	Outcome   Outcome   `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	Actor     Actor     `json:"actor"`
	ActorName string    `json:"actor_name,omitempty"`
	Channel   Channel   `json:"channel,omitempty"`
	Route     string    `json:"route,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Purpose   string    `json:"purpose,omitempty"`

	RecordType string `json:"record_type,omitempty"`
	RecordID   string `json:"record_id,omitempty"`
	Field      string `json:"field,omitempty"`
	Subject    string `json:"subject,omitempty"`

	// HasNew and HasPrior report that the event carries a sealed new or
	// prior value (phi.Reviewer opens them, audited).
	HasNew   bool `json:"has_new"`
	HasPrior bool `json:"has_prior"`
	// Change holds the sealed bytes, never plaintext; it is not part of
	// the JSON form.
	Change *Change `json:"-"`
}

// History is a record's change history, oldest first.
type History struct {
	Subject    string         `json:"subject,omitempty"`
	RecordType string         `json:"record_type,omitempty"`
	RecordID   string         `json:"record_id,omitempty"`
	Field      string         `json:"field,omitempty"`
	Entries    []HistoryEntry `json:"entries"`
	// Truncated is true when more entries matched than Limit.
	Truncated bool `json:"truncated"`
}

// RecordHistory returns the change history of the record req names, from
// any ChainSearcher (the file trail, the PostgreSQL trail, a
// VerifiedSearcher, which makes a tampered trail an error instead of a
// history).
//
// Order: each stream's events in chain order (sequence order, the order in
// which they were recorded, even where their times are not ascending), the
// streams of several writers (replicas) merged by time; two streams' events
// with the same time come in stream-name order. Failures are listed with
// their outcome and reason. Only identifiers, names from the Directory and
// the presence of sealed values are returned; plaintext never is.
func RecordHistory(ctx context.Context, s ChainSearcher, req HistoryRequest) (History, error) {
	if req.Subject == "" && req.RecordID == "" {
		return History{}, &FilterError{Field: "subject", Reason: "a history needs a subject or a record ID"}
	}
	if len(req.Field) > MaxStringLen {
		return History{}, &FilterError{Field: "field", Reason: "longer than " + strconv.Itoa(MaxStringLen) + " bytes"}
	}
	limit := req.Limit
	if limit == 0 {
		limit = DefaultHistoryLimit
	}
	if limit < 0 || limit > MaxHistoryLimit {
		return History{}, &FilterError{Field: "limit", Reason: "must be between 0 and " + strconv.Itoa(MaxHistoryLimit)}
	}
	f := Filter{Subject: req.Subject, RecordType: req.RecordType, RecordID: req.RecordID, Actions: req.Actions,
		Outcome: req.Outcome, Since: req.Since, Until: req.Until}
	if len(f.Actions) == 0 {
		f.Actions = changeActions
	}
	if err := f.Validate(); err != nil {
		return History{}, err
	}
	// The first limit+1 entries of the merge hold at most limit+1 of each
	// stream, each stream's first ones: that is all a stream must keep.
	var streams []string
	byStream := map[string][]Record{}
	for r, err := range s.SearchChain(ctx, f) {
		if err != nil {
			return History{}, err
		}
		if !req.matchField(&r.Event) {
			continue
		}
		rs, seen := byStream[r.Stream]
		if !seen {
			streams = append(streams, r.Stream)
		}
		if len(rs) <= limit {
			byStream[r.Stream] = append(rs, r)
		}
	}
	slices.Sort(streams)
	h := History{Subject: req.Subject, RecordType: req.RecordType, RecordID: req.RecordID, Field: req.Field,
		Entries: []HistoryEntry{}}
	names := map[string]string{}
	for {
		next := -1
		for i, st := range streams {
			rs := byStream[st]
			if len(rs) == 0 {
				continue
			}
			if next < 0 || rs[0].Event.Time.Before(byStream[streams[next]][0].Event.Time) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		if len(h.Entries) == limit {
			h.Truncated = true
			break
		}
		st := streams[next]
		r := byStream[st][0]
		byStream[st] = byStream[st][1:]
		e, err := historyEntry(ctx, &r, req.Directory, names)
		if err != nil {
			return History{}, err
		}
		h.Entries = append(h.Entries, e)
	}
	return h, nil
}

// matchField applies req.Field, which a Filter cannot express.
func (req *HistoryRequest) matchField(e *Event) bool {
	if req.Field == "" || e.Target.Field == req.Field {
		return true
	}
	return e.Target.Field == "" && e.Target.RecordType == "" && e.Target.RecordID == ""
}

func historyEntry(ctx context.Context, r *Record, dir Directory, names map[string]string) (HistoryEntry, error) {
	e := &r.Event
	h := HistoryEntry{
		Time: e.Time, Stream: r.Stream, Seq: r.Seq, Action: e.Action, Outcome: e.Outcome, Reason: e.Reason,
		Actor: e.Actor, Channel: e.Origin.Channel, Route: e.Origin.Route, RequestID: e.Origin.RequestID, Purpose: e.Purpose,
		RecordType: e.Target.RecordType, RecordID: e.Target.RecordID, Field: e.Target.Field, Subject: e.Target.Subject,
	}
	if c := e.Change; c != nil && (len(c.New) > 0 || len(c.Prior) > 0) {
		h.HasNew, h.HasPrior = len(c.New) > 0, len(c.Prior) > 0
		h.Change = &Change{New: slices.Clone(c.New), Prior: slices.Clone(c.Prior)}
	}
	if id := e.Actor.UserID; dir != nil && id != "" {
		name, cached := names[id]
		if !cached {
			n, ok, err := dir.DisplayName(ctx, id)
			if err != nil {
				return HistoryEntry{}, &DirectoryError{UserID: id, Err: err}
			}
			if ok {
				name = n
			}
			names[id] = name
		}
		h.ActorName = name
	}
	return h, nil
}
