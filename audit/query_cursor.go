package audit

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// ErrInvalidCursor reports a cursor token that is not one this package made.
var ErrInvalidCursor = errors.New("audit: invalid cursor")

// Cursor is a position in the listing order of records: Event.Time, then
// stream, then sequence number. Within one stream this is a total order
// because (stream, seq) is unique. Its token form (String, ParseCursor) is
// opaque to clients and versioned: "c1_" followed by the unpadded base64url
// encoding of 8 bytes of Unix seconds, 4 bytes of nanoseconds and 8 bytes of
// sequence number (all big-endian), then the stream name.
type Cursor struct {
	Time   time.Time
	Stream string
	Seq    uint64
}

// cursorPrefix marks version 1 of the token format.
const cursorPrefix = "c1_"

// maxCursorToken bounds the token length ParseCursor accepts.
const maxCursorToken = len(cursorPrefix) + (20+MaxStreamLen+2)/3*4

// CursorOf returns the position of r.
func CursorOf(r *Record) Cursor {
	return Cursor{Time: r.Event.Time.UTC().Round(0), Stream: r.Stream, Seq: r.Seq}
}

// IsZero reports whether c is the zero Cursor (the start of a listing).
func (c Cursor) IsZero() bool { return c.Time.IsZero() && c.Stream == "" && c.Seq == 0 }

// Compare orders cursors by time, then stream, then sequence number.
func (c Cursor) Compare(d Cursor) int {
	if n := c.Time.Compare(d.Time); n != 0 {
		return n
	}
	if n := strings.Compare(c.Stream, d.Stream); n != 0 {
		return n
	}
	return cmp.Compare(c.Seq, d.Seq)
}

func (c Cursor) check() error {
	if !ValidStream(c.Stream) || c.Seq == 0 || c.Seq > MaxSeq || c.Time.IsZero() {
		return ErrInvalidCursor
	}
	if y := c.Time.UTC().Year(); y < 1 || y > 9999 {
		return ErrInvalidCursor
	}
	return nil
}

// String returns the token form of c, or "" for the zero Cursor.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	b := make([]byte, 20, 20+len(c.Stream))
	t := c.Time.UTC()
	binary.BigEndian.PutUint64(b[0:8], uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:12], uint32(t.Nanosecond()))
	binary.BigEndian.PutUint64(b[12:20], c.Seq)
	b = append(b, c.Stream...)
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor parses a token made by Cursor.String. The empty string is the
// zero Cursor. Every other malformed, foreign or out-of-range token fails
// with ErrInvalidCursor; the error never echoes the token.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	if len(s) > maxCursorToken || !strings.HasPrefix(s, cursorPrefix) {
		return Cursor{}, ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s[len(cursorPrefix):])
	if err != nil || len(b) < 21 {
		return Cursor{}, ErrInvalidCursor
	}
	sec := int64(binary.BigEndian.Uint64(b[0:8]))
	nsec := binary.BigEndian.Uint32(b[8:12])
	if nsec >= 1e9 {
		return Cursor{}, ErrInvalidCursor
	}
	c := Cursor{
		Time:   time.Unix(sec, int64(nsec)).UTC(),
		Seq:    binary.BigEndian.Uint64(b[12:20]),
		Stream: string(b[20:]),
	}
	if c.check() != nil || c.Time.Unix() != sec {
		return Cursor{}, ErrInvalidCursor
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode: accept only
	// the one token String makes, so a cursor has exactly one spelling.
	if c.String() != s {
		return Cursor{}, ErrInvalidCursor
	}
	return c, nil
}

// MarshalText returns the token form of c.
func (c Cursor) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses a token form.
func (c *Cursor) UnmarshalText(b []byte) error {
	p, err := ParseCursor(string(b))
	if err != nil {
		return err
	}
	*c = p
	return nil
}
