package audit

import (
	"encoding/base64"
	"time"
	"unicode/utf8"
	"unsafe"
)

// decoder is a strict parser of the canonical encoding: it accepts exactly
// the bytes the encoder produces and fails on anything else. Strings
// without escapes are sliced from src (one allocation per line).
type decoder struct {
	b   []byte
	src string // the same bytes as b, for zero-copy substrings
	i   int
	bad bool
	err error // a validation error found while parsing (the line is well-formed)
	// lite skips materializing what verification does not read: Change
	// bytes are checked into scratch, Attrs are checked but only
	// AttrPurgedThrough of a retention_purge event is kept.
	lite    bool
	scratch []byte
	arena   []byte // lite: unescaped strings of the current line
}

func (d *decoder) fail() bool { d.bad = true; return false }

// lit consumes s if the input continues with it.
func (d *decoder) lit(s string) bool {
	if d.bad || len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

func (d *decoder) expect(s string) {
	if !d.lit(s) {
		d.fail()
	}
}

// member consumes `"k":` (preceded by ',' unless first) if present.
func (d *decoder) member(first *bool, k string) bool {
	if d.bad {
		return false
	}
	j := d.i
	if !*first {
		if j >= len(d.b) || d.b[j] != ',' {
			return false
		}
		j++
	}
	if len(d.b)-j < len(k)+3 || d.b[j] != '"' || string(d.b[j+1:j+1+len(k)]) != k || d.b[j+1+len(k)] != '"' || d.b[j+2+len(k)] != ':' {
		return false
	}
	d.i = j + len(k) + 3
	*first = false
	return true
}

// str parses a canonical string; empty strings are refused unless allowEmpty.
func (d *decoder) str(allowEmpty bool) string {
	if d.bad || d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return ""
	}
	d.i++
	begin := d.i
	start := d.i   // start of the run not yet copied to out
	var out []byte // nil until an escape is seen
	mark := 0
	for {
		for d.i < len(d.b) && plainByte[d.b[d.i]] {
			d.i++
		}
		if d.i >= len(d.b) {
			d.fail()
			return ""
		}
		c := d.b[d.i]
		switch {
		case c == '"':
			var s string
			switch {
			case out == nil:
				s = d.src[begin:d.i]
			case d.lite:
				// arena only grows within a line, so s stays intact until
				// the next line resets it
				d.arena = append(out, d.b[start:d.i]...)
				s = unsafe.String(&d.arena[mark], len(d.arena)-mark)
			default:
				s = string(append(out, d.b[start:d.i]...))
			}
			d.i++
			if s == "" && !allowEmpty {
				d.fail()
			}
			return s
		case c < 0x20:
			d.fail()
			return ""
		case c == '\\':
			if out == nil {
				if d.lite {
					mark = len(d.arena)
					out = d.arena
				} else {
					out = make([]byte, 0, d.i-begin+16)
				}
			}
			out = append(out, d.b[start:d.i]...)
			if d.i+1 >= len(d.b) {
				d.fail()
				return ""
			}
			var r byte
			n := 2
			switch d.b[d.i+1] {
			case '"':
				r = '"'
			case '\\':
				r = '\\'
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				// Only \u00xx (lower-case hex) for control characters that
				// have no short escape.
				if len(d.b)-d.i < 6 || d.b[d.i+2] != '0' || d.b[d.i+3] != '0' {
					d.fail()
					return ""
				}
				hi, lo := unhex(d.b[d.i+4]), unhex(d.b[d.i+5])
				if hi > 1 || lo > 15 {
					d.fail()
					return ""
				}
				r = hi<<4 | lo
				switch r {
				case '\b', '\f', '\n', '\r', '\t':
					d.fail()
					return ""
				}
				n = 6
			default:
				d.fail()
				return ""
			}
			out = append(out, r)
			d.i += n
			start = d.i
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			if r == utf8.RuneError && size <= 1 {
				d.fail()
				return ""
			}
			d.i += size
		}
	}
}

// plainByte is true for the bytes a canonical string holds literally
// without further checks: printable ASCII except '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unhexTable maps '0'-'9' and 'a'-'f' to their values, everything else to 255.
var unhexTable = func() (t [256]byte) {
	for i := range t {
		t[i] = 255
	}
	for i := 0; i < 10; i++ {
		t['0'+i] = byte(i)
	}
	for i := 0; i < 6; i++ {
		t['a'+i] = byte(10 + i)
	}
	return t
}()

func unhex(c byte) byte { return unhexTable[c] }

// uint parses a canonical non-negative integer up to MaxSeq.
func (d *decoder) uint() uint64 {
	if d.bad || d.i >= len(d.b) {
		d.fail()
		return 0
	}
	if d.b[d.i] == '0' {
		d.i++
		if d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.fail()
		}
		return 0
	}
	var v uint64
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		v = v*10 + uint64(d.b[d.i]-'0')
		d.i++
		n++
		if n > 16 {
			d.fail()
			return 0
		}
	}
	if n == 0 || v > MaxSeq {
		d.fail()
		return 0
	}
	return v
}

// hash parses a quoted 64-digit lower-case hex string.
func (d *decoder) hash() (h Hash) {
	if d.bad || len(d.b)-d.i < 66 || d.b[d.i] != '"' || d.b[d.i+65] != '"' {
		d.fail()
		return h
	}
	for k := 0; k < 32; k++ {
		hi, lo := unhex(d.b[d.i+1+2*k]), unhex(d.b[d.i+2+2*k])
		if hi > 15 || lo > 15 {
			d.fail()
			return Hash{}
		}
		h[k] = hi<<4 | lo
	}
	d.i += 66
	return h
}

// base64 parses a quoted, padded, standard base64 string of at most max
// decoded bytes; empty is refused.
func (d *decoder) base64(max int) []byte {
	if d.bad || d.i >= len(d.b) || d.b[d.i] != '"' {
		d.fail()
		return nil
	}
	end := d.i + 1
	for end < len(d.b) && d.b[end] != '"' {
		end++
	}
	if end >= len(d.b) || end == d.i+1 || base64.StdEncoding.DecodedLen(end-d.i-1) > max+2 {
		d.fail()
		return nil
	}
	var dst []byte
	if d.lite {
		dst = d.scratch[:0]
	}
	out, err := base64.StdEncoding.Strict().AppendDecode(dst, d.b[d.i+1:end])
	if err != nil || len(out) == 0 || len(out) > max {
		d.fail()
		return nil
	}
	d.i = end + 1
	if d.lite {
		d.scratch = out
		return nil
	}
	return out
}

// time parses a canonical time string.
func (d *decoder) time() time.Time {
	const layoutLen = len(`"2006-01-02T15:04:05.000000000Z"`)
	if d.bad || len(d.b)-d.i < layoutLen {
		d.fail()
		return time.Time{}
	}
	b := d.b[d.i : d.i+layoutLen]
	if b[0] != '"' || b[5] != '-' || b[8] != '-' || b[11] != 'T' || b[14] != ':' || b[17] != ':' || b[20] != '.' || b[30] != 'Z' || b[31] != '"' {
		d.fail()
		return time.Time{}
	}
	num := func(s []byte) int {
		v := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				d.bad = true
				return 0
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, dd := num(b[1:5]), num(b[6:8]), num(b[9:11])
	h, mi, s, ns := num(b[12:14]), num(b[15:17]), num(b[18:20]), num(b[21:30])
	if d.bad || y < 1 || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || s > 59 {
		d.fail()
		return time.Time{}
	}
	t := time.Date(y, time.Month(mo), dd, h, mi, s, ns, time.UTC)
	if t.Day() != dd { // e.g. February 30th normalized to March
		d.fail()
		return time.Time{}
	}
	d.i += layoutLen
	return t
}

// event parses a canonical event object into e.
func (d *decoder) event(e *Event) {
	d.expect("{")
	first := true
	if !d.member(&first, "action") {
		d.fail()
		return
	}
	e.Action = Action(d.str(false))

	if !d.member(&first, "actor") {
		d.fail()
		return
	}
	d.expect("{")
	f := true
	if d.member(&f, "emergency") {
		d.expect("true")
		e.Actor.Emergency = true
	}
	if d.member(&f, "emergency_reason") {
		e.Actor.EmergencyReason = d.str(false)
	}
	if d.member(&f, "role") {
		e.Actor.Role = d.str(false)
	}
	if d.member(&f, "session_id") {
		e.Actor.SessionID = d.str(false)
	}
	if d.member(&f, "tenant_id") {
		e.Actor.TenantID = d.str(false)
	}
	if d.member(&f, "user_id") {
		e.Actor.UserID = d.str(false)
	}
	d.expect("}")

	if d.member(&first, "attrs") {
		d.expect("{")
		keep := !d.lite || e.Action == ActionRetentionPurge
		if keep {
			e.Attrs = make(map[string]string)
		}
		f := true
		prev := ""
		n := 0
		for !d.bad && !d.lit("}") {
			if !f {
				d.expect(",")
			}
			f = false
			k := d.str(false)
			if d.bad || (prev != "" && k <= prev) || n >= MaxAttrs {
				d.fail()
				return
			}
			d.expect(":")
			v := d.str(true)
			if err := checkAttr(k, v, false); err != nil && d.err == nil {
				d.err = err
			}
			if keep && (!d.lite || k == AttrPurgedThrough) {
				e.Attrs[k] = v
			}
			prev = k
			n++
		}
		if n == 0 {
			d.fail()
		}
	}

	if d.member(&first, "change") {
		d.expect("{")
		var ch Change
		f := true
		if d.member(&f, "new") {
			ch.New = d.base64(MaxSealedLen)
		}
		if d.member(&f, "prior") {
			ch.Prior = d.base64(MaxSealedLen)
		}
		if d.lite {
			e.Change = liteChange
		} else {
			kept := ch
			e.Change = &kept
		}
		if f { // empty change object is not canonical
			d.fail()
		}
		d.expect("}")
	}

	if !d.member(&first, "origin") {
		d.fail()
		return
	}
	d.expect("{")
	f = true
	if d.member(&f, "channel") {
		e.Origin.Channel = Channel(d.str(false))
	}
	if d.member(&f, "client_ip") {
		e.Origin.ClientIP = d.str(false)
	}
	if d.member(&f, "request_id") {
		e.Origin.RequestID = d.str(false)
	}
	if d.member(&f, "route") {
		e.Origin.Route = d.str(false)
	}
	if d.member(&f, "user_agent") {
		e.Origin.UserAgent = d.str(false)
	}
	d.expect("}")

	if !d.member(&first, "outcome") {
		d.fail()
		return
	}
	e.Outcome = Outcome(d.str(false))
	if d.member(&first, "purpose") {
		e.Purpose = d.str(false)
	}
	if d.member(&first, "reason") {
		e.Reason = d.str(false)
	}
	if d.member(&first, "recipient") {
		d.expect("{")
		f := true
		if d.member(&f, "address") {
			e.Recipient.Address = d.str(false)
		}
		if d.member(&f, "id") {
			e.Recipient.ID = d.str(false)
		}
		if d.member(&f, "kind") {
			e.Recipient.Kind = RecipientKind(d.str(false))
		}
		if d.member(&f, "name") {
			e.Recipient.Name = d.str(false)
		}
		if f { // an empty recipient object is not canonical
			d.fail()
		}
		d.expect("}")
	}

	if !d.member(&first, "target") {
		d.fail()
		return
	}
	d.expect("{")
	f = true
	if d.member(&f, "field") {
		e.Target.Field = d.str(false)
	}
	if d.member(&f, "record_id") {
		e.Target.RecordID = d.str(false)
	}
	if d.member(&f, "record_type") {
		e.Target.RecordType = d.str(false)
	}
	if d.member(&f, "subject") {
		e.Target.Subject = d.str(false)
	}
	d.expect("}")

	if !d.member(&first, "time") {
		d.fail()
		return
	}
	e.Time = d.time()
	d.expect("}")
}
