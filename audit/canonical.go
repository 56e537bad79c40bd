package audit

// The canonical encoding (FORMAT.md): JSON with object members sorted by key
// (RFC 8785 order; all keys are ASCII), no insignificant white space, empty
// optional members omitted, strings escaped as RFC 8785 does (\" \\ \b \f \n
// \r \t, other control characters as \u00xx, everything else literal UTF-8),
// byte strings as padded standard base64, times as
// "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", integers in plain decimal.

import (
	"encoding/base64"
	"slices"
	"strconv"
	"time"
)

const hexDigits = "0123456789abcdef"

// liteChange stands for a change that a lite parse checked but did not keep.
var liteChange = &Change{}

// appendString appends s as a canonical JSON string. s must be valid UTF-8
// (Validate checks it).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTime appends t (UTC, year 1-9999) as a canonical time string.
func appendTime(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, '"')
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond(), 9)
	return append(dst, 'Z', '"')
}

func appendDigits(dst []byte, v, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func appendHex(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(dst, '"')
}

// member appends `,"key":` or `"key":` depending on whether it is the
// first member of its object.
type objWriter struct {
	b     []byte
	first bool
}

func (w *objWriter) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *objWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = appendString(w.b, v)
}

// appendEvent appends the canonical encoding of e. e must be valid and its
// Time normalized to UTC and non-zero.
func appendEvent(dst []byte, e *Event) []byte {
	w := objWriter{b: append(dst, '{'), first: true}
	w.str("action", string(e.Action))

	w.key("actor")
	a := objWriter{b: append(w.b, '{'), first: true}
	if e.Actor.Emergency {
		a.key("emergency")
		a.b = append(a.b, "true"...)
	}
	a.str("emergency_reason", e.Actor.EmergencyReason)
	a.str("role", e.Actor.Role)
	a.str("session_id", e.Actor.SessionID)
	a.str("tenant_id", e.Actor.TenantID)
	a.str("user_id", e.Actor.UserID)
	w.b = append(a.b, '}')

	if len(e.Attrs) > 0 {
		w.key("attrs")
		var arr [MaxAttrs]string // Validate bounds the count
		keys := arr[:0]
		for k := range e.Attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		m := objWriter{b: append(w.b, '{'), first: true}
		for _, k := range keys {
			m.key(k)
			m.b = appendString(m.b, e.Attrs[k])
		}
		w.b = append(m.b, '}')
	}

	if c := e.Change; c != nil && (len(c.New) > 0 || len(c.Prior) > 0) {
		w.key("change")
		m := objWriter{b: append(w.b, '{'), first: true}
		if len(c.New) > 0 {
			m.key("new")
			m.b = appendBase64(m.b, c.New)
		}
		if len(c.Prior) > 0 {
			m.key("prior")
			m.b = appendBase64(m.b, c.Prior)
		}
		w.b = append(m.b, '}')
	}

	w.key("origin")
	o := objWriter{b: append(w.b, '{'), first: true}
	o.str("channel", string(e.Origin.Channel))
	o.str("client_ip", e.Origin.ClientIP)
	o.str("request_id", e.Origin.RequestID)
	o.str("route", e.Origin.Route)
	o.str("user_agent", e.Origin.UserAgent)
	w.b = append(o.b, '}')

	w.str("outcome", string(e.Outcome))
	w.str("purpose", e.Purpose)
	w.str("reason", e.Reason)

	if !e.Recipient.IsZero() {
		w.key("recipient")
		p := objWriter{b: append(w.b, '{'), first: true}
		p.str("address", e.Recipient.Address)
		p.str("id", e.Recipient.ID)
		p.str("kind", string(e.Recipient.Kind))
		p.str("name", e.Recipient.Name)
		w.b = append(p.b, '}')
	}

	w.key("target")
	t := objWriter{b: append(w.b, '{'), first: true}
	t.str("field", e.Target.Field)
	t.str("record_id", e.Target.RecordID)
	t.str("record_type", e.Target.RecordType)
	t.str("subject", e.Target.Subject)
	w.b = append(t.b, '}')

	w.key("time")
	w.b = appendTime(w.b, e.Time.UTC())
	return append(w.b, '}')
}

// appendUint appends a canonical non-negative integer.
func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }
