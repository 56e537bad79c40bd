package audit

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits on an Event. Validate enforces them, and the canonical encoder and
// parser refuse anything beyond them, so a line that parses always encodes
// back to the same bytes.
const (
	// MaxStringLen is the longest string field, in bytes of UTF-8.
	MaxStringLen = 1024
	// MaxActionLen is the longest Action.
	MaxActionLen = 64
	// MaxAttrs is the most entries in Event.Attrs.
	MaxAttrs = 32
	// MaxAttrKeyLen is the longest key in Event.Attrs.
	MaxAttrKeyLen = 64
	// MaxSealedLen is the longest Change.New or Change.Prior, in bytes.
	MaxSealedLen = 64 << 10
	// MaxLineSize is the longest encoded record or checkpoint line,
	// including its newline. Every valid Event fits.
	MaxLineSize = 1 << 20
	// MaxSeq is the largest sequence number: JSON numbers are exact up to
	// 2^53-1 in every common parser.
	MaxSeq = 1<<53 - 1
	// MaxStreamLen is the longest stream name.
	MaxStreamLen = 64
)

// ActionTrailRepaired is recorded by a FileLog opened with Repair after it
// dropped a torn, unacknowledged tail.
const ActionTrailRepaired Action = "trail_repaired"

// ValidAction reports whether a is a well-formed action: 1 to 64 bytes of
// lower-case ASCII letters, digits, '_' and '.', starting with a letter.
func ValidAction(a Action) bool {
	return validToken(string(a), MaxActionLen, false)
}

// ValidStream reports whether s is a well-formed stream name: 1 to 64
// bytes of ASCII letters, digits, '_', '.' and '-', starting with a letter
// or digit.
func ValidStream(s string) bool {
	if len(s) == 0 || len(s) > MaxStreamLen || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validToken: lower-case letter first, then lower-case letters, digits, '_'
// and '.'; attr keys (attr=true) also allow '-' and a leading digit.
func validToken(s string, max int, attr bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z') && !(attr && c >= '0' && c <= '9') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		ok := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || (attr && c == '-')
		if !ok {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// Validate checks e against the event model: a well-formed Action, an
// Outcome of success or failure, strings of valid UTF-8 within
// MaxStringLen, Attrs keys of lower-case tokens, sealed values within
// MaxSealedLen, and a Time (when set) between years 1 and 9999. A zero Time
// is valid here: writers set it from their clock. Errors are *FieldError
// (errors.Is ErrInvalidEvent) and never include the offending value.
//
// Control characters, quotes and newlines are valid in strings: the
// canonical encoding escapes them, so they cannot forge or split entries.
func (e *Event) Validate() error {
	if err := e.validateCore(true); err != nil {
		return err
	}
	if len(e.Attrs) > MaxAttrs {
		return &FieldError{Field: "attrs", Reason: "more than " + strconv.Itoa(MaxAttrs) + " entries"}
	}
	for k, v := range e.Attrs {
		if err := checkAttr(k, v, true); err != nil {
			return err
		}
	}
	return nil
}

// validateCore checks everything but Attrs; the parser, which has checked
// UTF-8 and the attributes already, passes utf8Check=false.
func (e *Event) validateCore(utf8Check bool) error {
	if !ValidAction(e.Action) {
		return &FieldError{Field: "action", Reason: "must be 1-64 lower-case letters, digits, '_' or '.', starting with a letter"}
	}
	if e.Outcome != OutcomeSuccess && e.Outcome != OutcomeFailure {
		return &FieldError{Field: "outcome", Reason: `must be "success" or "failure"`}
	}
	if k := e.Recipient.Kind; k != "" && k != RecipientPerson && k != RecipientOrganization {
		return &FieldError{Field: "recipient.kind", Reason: `must be "person" or "organization"`}
	}
	if !e.Time.IsZero() {
		if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
			return &FieldError{Field: "time", Reason: "year outside 1-9999"}
		}
	}
	strs := [...]struct {
		name string
		v    string
	}{
		{"reason", e.Reason},
		{"purpose", e.Purpose},
		{"actor.user_id", e.Actor.UserID},
		{"actor.tenant_id", e.Actor.TenantID},
		{"actor.role", e.Actor.Role},
		{"actor.session_id", e.Actor.SessionID},
		{"actor.emergency_reason", e.Actor.EmergencyReason},
		{"origin.channel", string(e.Origin.Channel)},
		{"origin.client_ip", e.Origin.ClientIP},
		{"origin.user_agent", e.Origin.UserAgent},
		{"origin.request_id", e.Origin.RequestID},
		{"origin.route", e.Origin.Route},
		{"target.record_type", e.Target.RecordType},
		{"target.record_id", e.Target.RecordID},
		{"target.field", e.Target.Field},
		{"target.subject", e.Target.Subject},
		{"recipient.id", e.Recipient.ID},
		{"recipient.name", e.Recipient.Name},
		{"recipient.address", e.Recipient.Address},
	}
	for _, s := range strs {
		if err := checkString(s.name, s.v, utf8Check); err != nil {
			return err
		}
	}
	if c := e.Change; c != nil {
		if len(c.New) > MaxSealedLen {
			return &FieldError{Field: "change.new", Reason: "longer than " + strconv.Itoa(MaxSealedLen) + " bytes"}
		}
		if len(c.Prior) > MaxSealedLen {
			return &FieldError{Field: "change.prior", Reason: "longer than " + strconv.Itoa(MaxSealedLen) + " bytes"}
		}
	}
	return nil
}

func checkAttr(k, v string, utf8Check bool) error {
	if !validToken(k, MaxAttrKeyLen, true) {
		return &FieldError{Field: "attrs", Reason: "keys must be 1-64 lower-case letters, digits, '_', '.' or '-'"}
	}
	if len(v) > MaxStringLen {
		return &FieldError{Field: "attrs", Reason: "value longer than " + strconv.Itoa(MaxStringLen) + " bytes"}
	}
	if utf8Check && !utf8.ValidString(v) {
		return &FieldError{Field: "attrs", Reason: "value not valid UTF-8"}
	}
	return nil
}

func checkString(name, v string, utf8Check bool) error {
	if len(v) > MaxStringLen {
		return &FieldError{Field: name, Reason: "longer than " + strconv.Itoa(MaxStringLen) + " bytes"}
	}
	if utf8Check && !utf8.ValidString(v) {
		return &FieldError{Field: name, Reason: "not valid UTF-8"}
	}
	return nil
}

// normalizeTime returns t in UTC, or now in UTC when t is zero.
func normalizeTime(t time.Time, now func() time.Time) time.Time {
	if t.IsZero() {
		t = now()
	}
	return t.UTC().Round(0)
}
