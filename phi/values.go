package phi

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Redacted is what every PHI value type prints, marshals and logs as.
const Redacted = "[redacted]"

// The PHI value types below hold their plaintext behind a pointer to a
// scalar or a function, so that even when a value sits in an unexported
// struct field (where fmt cannot call its methods, and where a pointer to a
// struct or slice would be followed) fmt prints an address, never the
// plaintext. Every method has a value receiver, so T and *T redact alike.
// The only way to the plaintext is the method named Reveal.

// Text is a PHI string, such as a name or an address. The zero value is the
// empty string.
type Text struct{ p *string }

// NewText wraps s.
func NewText(s string) Text { return Text{p: &s} }

// Reveal returns the plaintext. It is the only way to get it; callers that
// reveal PHI to a person should use Vault.Reveal, which is audited.
func (t Text) Reveal() string {
	if t.p == nil {
		return ""
	}
	return *t.p
}

// IsZero reports whether t is the empty string.
func (t Text) IsZero() bool { return t.p == nil || *t.p == "" }

// Bytes returns t's plaintext as a Bytes value (still redacting).
func (t Text) Bytes() Bytes { return NewBytes([]byte(t.Reveal())) }

// String returns Redacted.
func (Text) String() string { return Redacted }

// GoString returns "phi.Text([redacted])".
func (Text) GoString() string { return "phi.Text(" + Redacted + ")" }

// Format prints Redacted under every verb.
func (Text) Format(f fmt.State, verb rune) { formatRedacted(f, verb, "phi.Text") }

// LogValue returns Redacted.
func (Text) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText returns Redacted.
func (Text) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON returns Redacted as a JSON string.
func (Text) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// Bytes is a PHI byte string, such as a scanned document or an opened sealed
// value. The zero value is empty.
type Bytes struct{ p secretBytes }

// secretBytes hands out the plaintext. It is a function, not a pointer, so
// that fmt, which dereferences a pointer to a slice or struct when it reports
// a bad verb, can only ever print its address.
type secretBytes func() []byte

// NewBytes wraps a copy of b.
func NewBytes(b []byte) Bytes { return wrapBytes(slices.Clone(b)) }

// wrapBytes wraps b without copying; b must not be used by the caller after.
func wrapBytes(b []byte) Bytes { return Bytes{p: func() []byte { return b }} }

// reveal returns the plaintext itself, not a copy.
func (b Bytes) reveal() []byte {
	if b.p == nil {
		return nil
	}
	return b.p()
}

// Reveal returns a copy of the plaintext. It is the only way to get it;
// callers that reveal PHI to a person should use Vault.Reveal, which is
// audited.
func (b Bytes) Reveal() []byte { return slices.Clone(b.reveal()) }

// Len returns the plaintext length in bytes (not secret in itself: a sealed
// value's length gives it away too).
func (b Bytes) Len() int { return len(b.reveal()) }

// Text returns the plaintext as a Text value (still redacting).
func (b Bytes) Text() Text {
	if b.p == nil {
		return Text{}
	}
	return NewText(string(b.reveal()))
}

// Wipe overwrites the plaintext with zeros. Copies made by Reveal, Text and
// the Go runtime are not affected.
func (b Bytes) Wipe() { clear(b.reveal()) }

// String returns Redacted.
func (Bytes) String() string { return Redacted }

// GoString returns "phi.Bytes([redacted])".
func (Bytes) GoString() string { return "phi.Bytes(" + Redacted + ")" }

// Format prints Redacted under every verb.
func (Bytes) Format(f fmt.State, verb rune) { formatRedacted(f, verb, "phi.Bytes") }

// LogValue returns Redacted.
func (Bytes) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText returns Redacted.
func (Bytes) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON returns Redacted as a JSON string.
func (Bytes) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// Date is a PHI calendar date, such as a date of birth or of admission (all
// dates directly related to an individual, except the year, are identifiers
// under the Safe Harbor method). The zero value is the zero date.
type Date struct {
	// p holds the Unix time of the date's midnight UTC. A pointer to a
	// scalar: fmt prints only its address, even where it cannot call
	// Date's methods.
	p *int64
}

// NewDate returns the date year-month-day, normalised as time.Date does.
func NewDate(year int, month time.Month, day int) Date {
	u := time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix()
	return Date{p: &u}
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return NewDate(y, m, d)
}

// ParseDate parses an ISO 8601 calendar date (YYYY-MM-DD). Its error never
// contains s.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("phi: date is not in YYYY-MM-DD form")
	}
	return DateOf(t), nil
}

// Reveal returns the date as midnight UTC. It is the only way to get it.
func (d Date) Reveal() time.Time {
	if d.p == nil {
		return time.Time{}
	}
	return time.Unix(*d.p, 0).UTC()
}

// IsZero reports whether d is the zero date.
func (d Date) IsZero() bool { return d.Reveal().IsZero() }

// String returns Redacted.
func (Date) String() string { return Redacted }

// GoString returns "phi.Date([redacted])".
func (Date) GoString() string { return "phi.Date(" + Redacted + ")" }

// Format prints Redacted under every verb.
func (Date) Format(f fmt.State, verb rune) { formatRedacted(f, verb, "phi.Date") }

// LogValue returns Redacted.
func (Date) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText returns Redacted.
func (Date) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON returns Redacted as a JSON string.
func (Date) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// formatRedacted prints Redacted for any verb: quoted under %q, with the type
// name under %#v.
func formatRedacted(f fmt.State, verb rune, typ string) {
	var s string
	switch {
	case verb == 'v' && f.Flag('#'):
		s = typ + "(" + Redacted + ")"
	case verb == 'q':
		s = `"` + Redacted + `"`
	default:
		s = Redacted
	}
	_, _ = f.Write([]byte(s))
}
