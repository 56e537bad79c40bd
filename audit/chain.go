package audit

// How a writer uses the chain (the file writer here, the PostgreSQL writer in
// audit/pgaudit, and users' own writers):
//
//  1. Keep one Chain per stream, resumed from the stream's stored head:
//     NewChain(ChainConfig{Stream, Seq: lastSeq, Head: lastHash, Clock}) —
//     zero Seq and Head for a new stream. A stream is a single writer's sequence; several processes
//     writing one store each use their own stream name (for example
//     "api-<instance>"), so that no two processes ever extend one chain.
//  2. For each event, under the writer's own lock (appends to one stream are
//     serial), call Next (or AppendNext to get the canonical line too) and
//     store the returned Record. Store it durably before acknowledging.
//     If storing fails, the chain has advanced past a record that does not
//     exist: fail the writer, or Reset the chain to the stored head.
//  3. Every N records, every T of time and at close, build a Checkpoint
//     of Head(), Sign it and store it after the record it covers
//     (and in a CheckpointSink if one is configured).
//  4. To verify, feed records in sequence order per stream, each checkpoint
//     after the record it covers, to a Verifier (Record, Checkpoint, Line)
//     and call Finish; or call Verify with an iterator of Entry values.
//     Memory stays constant in the number of records.
//
// A store that keeps the canonical line (Record.Marshal) may feed it to
// Verifier.Line, which skips re-encoding.

import (
	"crypto/sha256"
	"hash"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

// Chain assigns sequence numbers and hash links to the events of one
// stream. It is not safe for concurrent use: a writer calls it under its
// own lock, in the order it stores records.
type Chain struct {
	stream string
	seq    uint64
	head   Hash
	clock  clock.Clock
	tail   []byte
	sum    []byte
}

// ChainConfig configures NewChain. Stream is required.
type ChainConfig struct {
	// Stream names the chain's stream (ValidStream).
	Stream string
	// Seq and Head are the sequence number and hash of the stream's last
	// stored record; zero values start a new stream.
	Seq  uint64
	Head Hash
	// Clock sets the Time of events that have none. nil means clock.System.
	Clock clock.Clock
}

// NewChain returns a chain for cfg.Stream that continues after record
// cfg.Seq with hash cfg.Head.
func NewChain(cfg ChainConfig) (*Chain, error) {
	stream, seq, head := cfg.Stream, cfg.Seq, cfg.Head
	c := &Chain{stream: stream, clock: clock.OrSystem(cfg.Clock)}
	if !ValidStream(stream) {
		return nil, &FieldError{Field: "stream", Reason: "must be 1-64 ASCII letters, digits, '_', '.' or '-'"}
	}
	if err := c.Reset(seq, head); err != nil {
		return nil, err
	}
	return c, nil
}

// Stream returns the chain's stream name.
func (c *Chain) Stream() string { return c.stream }

// Head returns the sequence number and hash of the last record (0 and the
// zero hash before the first).
func (c *Chain) Head() (uint64, Hash) { return c.seq, c.head }

// Reset moves the chain to continue after record seq with hash head, for
// example after a failed store, from the head actually stored.
func (c *Chain) Reset(seq uint64, head Hash) error {
	if seq > MaxSeq || (seq == 0 && !head.IsZero()) {
		return &FieldError{Field: "seq", Reason: "invalid chain head"}
	}
	c.seq, c.head = seq, head
	return nil
}

// Next validates e, sets its Time (UTC; from the clock when zero), places
// it after the head and returns the record. The chain advances only on
// success.
func (c *Chain) Next(e Event) (Record, error) {
	_, r, err := c.AppendNext(nil, e)
	return r, err
}

// AppendNext is Next that also appends the record's canonical line
// (without a newline) to dst.
func (c *Chain) AppendNext(dst []byte, e Event) ([]byte, Record, error) {
	p, err := prepare(&e, c.clock.Now)
	if err != nil {
		return dst, Record{}, err
	}
	defer p.release()
	r := Record{Stream: c.stream, Prev: c.head, Event: p.ev}
	dst, r.Seq, r.Hash, err = c.link(p, dst)
	return dst, r, err
}

// prepared is an event validated, encoded and hashed up to the chain
// fields, so that only the short tail is done under the writer's lock.
type prepared struct {
	ev   Event
	body []byte    // `{"event":<canonical event>`
	h    hash.Hash // SHA-256 with body already written
}

var preparedPool = sync.Pool{New: func() any {
	return &prepared{body: make([]byte, 0, 1024), h: sha256.New()}
}}

func prepare(e *Event, now func() time.Time) (*prepared, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	p := preparedPool.Get().(*prepared)
	p.ev = *e
	p.ev.Time = normalizeTime(e.Time, now)
	if y := p.ev.Time.Year(); y < 1 || y > 9999 {
		p.release()
		return nil, &FieldError{Field: "time", Reason: "year outside 1-9999"}
	}
	p.body = appendEvent(append(p.body[:0], `{"event":`...), &p.ev)
	if len(p.body)+maxTailLen >= MaxLineSize {
		p.release()
		return nil, ErrOversized
	}
	p.h.Reset()
	p.h.Write(p.body)
	return p, nil
}

func (p *prepared) release() {
	p.ev = Event{}
	if cap(p.body) > 64<<10 {
		p.body = make([]byte, 0, 1024)
	}
	preparedPool.Put(p)
}

// maxTailLen bounds the members after the event: hash, prev, seq, stream, v.
const maxTailLen = 80 + 75 + 24 + 12 + MaxStreamLen + 8

// link places p after the head, appends its line to dst and advances.
func (c *Chain) link(p *prepared, dst []byte) ([]byte, uint64, Hash, error) {
	if c.seq >= MaxSeq {
		return dst, 0, Hash{}, &FieldError{Field: "seq", Reason: "stream is full"}
	}
	r := Record{Stream: c.stream, Seq: c.seq + 1, Prev: c.head}
	c.tail = appendRecordTail(c.tail[:0], &r)
	p.h.Write(c.tail)
	c.sum = p.h.Sum(c.sum[:0])
	var sum Hash
	copy(sum[:], c.sum)
	dst = append(dst, p.body...)
	dst = appendHashMember(dst, sum)
	dst = append(dst, c.tail...)
	c.seq, c.head = r.Seq, sum
	return dst, r.Seq, sum, nil
}
