package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"strings"
)

// FormatVersion is the version of the record and checkpoint line format
// this code writes (the "v" member; see FORMAT.md).
const FormatVersion = 1

// Hash is a SHA-256 digest in the hash chain.
type Hash [32]byte

// String returns h as 64 lower-case hex digits.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros: the Prev of a stream's first record.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as lower-case hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 64 lower-case hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash decodes 64 lower-case hex digits.
func ParseHash(s string) (Hash, error) {
	d := decoder{b: []byte(`"` + s + `"`)}
	h := d.hash()
	if d.bad || d.i != len(d.b) {
		return Hash{}, ErrMalformed
	}
	return h, nil
}

// Record is one persisted audit entry: an Event placed in a stream's hash
// chain. Seq counts from 1 within the stream without gaps; Prev is the Hash
// of record Seq-1 (all zeros for Seq 1); Hash is SHA-256 of the record's
// canonical encoding without its "hash" member (FORMAT.md).
type Record struct {
	Stream string
	Seq    uint64
	Prev   Hash
	Hash   Hash
	Event  Event
}

// Entry is one line of a log: either a Record or a Checkpoint.
type Entry struct {
	Record     *Record
	Checkpoint *Checkpoint
}

// ComputeHash returns the hash that r's content determines (which equals
// r.Hash for an untampered record).
func (r *Record) ComputeHash() (Hash, error) {
	var s hashScratch
	return r.computeHash(&s)
}

// hashScratch is what computeHash reuses across records.
type hashScratch struct {
	buf []byte
	h   hash.Hash
	sum []byte
}

func (r *Record) computeHash(s *hashScratch) (Hash, error) {
	if err := r.check(); err != nil {
		return Hash{}, err
	}
	if s.h == nil {
		s.h = sha256.New()
	}
	s.buf = appendEvent(append(s.buf[:0], `{"event":`...), &r.Event)
	s.h.Reset()
	s.h.Write(s.buf)
	s.buf = appendRecordTail(s.buf[:0], r)
	s.h.Write(s.buf)
	s.sum = s.h.Sum(s.sum[:0])
	var out Hash
	copy(out[:], s.sum)
	return out, nil
}

// Marshal returns the canonical line for r (without a trailing newline).
// It stores r.Hash as given; use Chain to compute it. It fails with
// ErrInvalidEvent for an invalid event and ErrOversized for a line longer
// than MaxLineSize.
func (r *Record) Marshal() ([]byte, error) { return r.AppendMarshal(nil) }

// AppendMarshal appends the canonical line for r to dst.
func (r *Record) AppendMarshal(dst []byte) ([]byte, error) {
	if err := r.check(); err != nil {
		return dst, err
	}
	n := len(dst)
	dst = appendEvent(append(dst, `{"event":`...), &r.Event)
	dst = appendHashMember(dst, r.Hash)
	dst = appendRecordTail(dst, r)
	if len(dst)-n >= MaxLineSize {
		return dst[:n], ErrOversized
	}
	return dst, nil
}

func (r *Record) check() error {
	if !ValidStream(r.Stream) {
		return &FieldError{Field: "stream", Reason: "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
	}
	if r.Seq == 0 || r.Seq > MaxSeq {
		return &FieldError{Field: "seq", Reason: "must be between 1 and 2^53-1"}
	}
	if r.Event.Time.IsZero() {
		return &FieldError{Field: "time", Reason: "must be set"}
	}
	return r.Event.Validate()
}

func appendHashMember(dst []byte, h Hash) []byte {
	dst = append(dst, `,"hash":`...)
	return appendHex(dst, h[:])
}

// appendRecordTail appends the members after "hash": `,"prev":…,"v":1}`.
func appendRecordTail(dst []byte, r *Record) []byte {
	dst = append(dst, `,"prev":`...)
	dst = appendHex(dst, r.Prev[:])
	dst = append(dst, `,"seq":`...)
	dst = appendUint(dst, r.Seq)
	dst = append(dst, `,"stream":`...)
	dst = appendString(dst, r.Stream)
	return append(dst, `,"v":1}`...)
}

// ParseRecord parses one canonical record line (with or without its
// trailing newline). It checks the form, not the chain: a tampered record
// parses, and Verifier finds it. Errors match ErrMalformed,
// ErrNonCanonical, ErrOversized, ErrVersion or ErrInvalidEvent.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	line = trimNewline(line)
	if _, err := parseRecordInto(line, string(line), &r, nil, nil); err != nil {
		return Record{}, err
	}
	return r, nil
}

// ParseLine parses one record or checkpoint line.
func ParseLine(line []byte) (Entry, error) {
	line = trimNewline(line)
	if bytes.HasPrefix(line, checkpointPrefix) {
		c, err := ParseCheckpoint(line)
		if err != nil {
			return Entry{}, err
		}
		return Entry{Checkpoint: &c}, nil
	}
	r, err := ParseRecord(line)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Record: &r}, nil
}

func trimNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return b[:len(b)-1]
	}
	return b
}

// parseRecordInto parses line (src holds the same bytes) into r. When h is
// non-nil it also computes the record's content hash into it, reusing h.
// A lite parse checks everything but keeps only what verification reads
// (see decoder.lite); its strings may alias src.
func parseRecordInto(line []byte, src string, r *Record, h hash.Hash, lite *liteScratch) (Hash, error) {
	if len(line) >= MaxLineSize {
		return Hash{}, ErrOversized
	}
	*r = Record{}
	d := decoder{b: line, src: src}
	if lite != nil {
		d.lite, d.scratch, d.arena = true, lite.b64[:0], lite.arena[:0]
		defer func() { lite.b64, lite.arena = d.scratch, d.arena }()
	}
	d.expect(`{"event":`)
	d.event(&r.Event)
	hashAt := d.i
	d.expect(`,"hash":`)
	r.Hash = d.hash()
	tailAt := d.i
	d.expect(`,"prev":`)
	r.Prev = d.hash()
	d.expect(`,"seq":`)
	r.Seq = d.uint()
	d.expect(`,"stream":`)
	r.Stream = d.str(false)
	d.expect(`,"v":1}`)
	if d.bad || d.i != len(line) {
		return Hash{}, classify(line)
	}
	if d.err != nil {
		return Hash{}, d.err
	}
	if !ValidStream(r.Stream) || r.Seq == 0 {
		return Hash{}, ErrNonCanonical
	}
	if r.Event.Time.IsZero() {
		return Hash{}, &FieldError{Field: "time", Reason: "must be set"}
	}
	if err := r.Event.validateCore(false); err != nil {
		return Hash{}, err
	}
	var sum Hash
	if h != nil {
		h.Reset()
		h.Write(line[:hashAt])
		h.Write(line[tailAt:])
		var buf []byte
		if lite != nil {
			buf = lite.sum[:0]
		}
		buf = h.Sum(buf)
		copy(sum[:], buf)
		if lite != nil {
			lite.sum = buf
		}
	}
	return sum, nil
}

// liteScratch holds the buffers a verifier reuses across lines.
type liteScratch struct {
	arena, b64, sum []byte
}

// classify explains why a line failed the strict parser: not JSON at all
// (ErrMalformed), another version (ErrVersion), or JSON that is not the
// canonical encoding (ErrNonCanonical). It runs only on the error path.
func classify(line []byte) error {
	if !json.Valid(line) {
		return ErrMalformed
	}
	var probe struct {
		V          *json.RawMessage `json:"v"`
		Checkpoint *struct {
			V *json.RawMessage `json:"v"`
		} `json:"checkpoint"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return ErrMalformed // valid JSON, but not an object
	}
	v := probe.V
	if probe.Checkpoint != nil {
		v = probe.Checkpoint.V
	}
	if v == nil {
		return ErrMalformed
	}
	if s := strings.TrimSpace(string(*v)); s != "1" {
		return ErrVersion
	}
	return ErrNonCanonical
}

// isLineErr reports whether err is a parse error of a single line.
func isLineErr(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrNonCanonical) || errors.Is(err, ErrOversized) ||
		errors.Is(err, ErrVersion) || errors.Is(err, ErrInvalidEvent)
}
