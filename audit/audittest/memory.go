package audittest

import (
	"context"
	"crypto"
	"iter"
	"sync"

	"github.com/hipaakit/hipaakit/audit"
)

// Memory is a hash-chained audit.Writer that keeps records in memory, for
// tests of code that writes audit events: it validates every event as a
// durable writer does, can be made to fail (FailWith), and answers what was
// written (Events, EventsWith, Actions, Last, Records, Entries). Its zero
// value is ready to use, on the stream DefaultMemoryStream without
// checkpoints. It is not durable: never use it where PHI is touched.
type Memory struct {
	mu      sync.Mutex
	chain   *audit.Chain
	signer  crypto.Signer
	every   int
	entries []audit.Entry
	fail    error
}

var _ audit.Writer = (*Memory)(nil)

// DefaultMemoryStream is the stream of a zero Memory.
const DefaultMemoryStream = "test"

// NewMemory returns an empty Memory writer for stream. With a signer, it
// stores a signed checkpoint after every 8 records.
func NewMemory(stream string, signer crypto.Signer) (*Memory, error) {
	c, err := audit.NewChain(audit.ChainConfig{Stream: stream})
	if err != nil {
		return nil, err
	}
	return &Memory{chain: c, signer: signer, every: 8}, nil
}

// FailWith makes every later Write fail with err (nil restores success),
// to test that callers fail closed.
func (m *Memory) FailWith(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// Write validates e, links it into the chain and keeps it.
func (m *Memory) Write(ctx context.Context, e audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.chain == nil {
		c, err := audit.NewChain(audit.ChainConfig{Stream: DefaultMemoryStream})
		if err != nil {
			return err
		}
		m.chain = c
	}
	r, err := m.chain.Next(e)
	if err != nil {
		return err
	}
	m.entries = append(m.entries, audit.Entry{Record: &r})
	if m.signer != nil && r.Seq%uint64(m.every) == 0 {
		cp := audit.Checkpoint{Stream: r.Stream, Seq: r.Seq, Head: r.Hash, Time: r.Event.Time, Reason: audit.CheckpointCount}
		if err := cp.Sign(m.signer); err != nil {
			return err
		}
		m.entries = append(m.entries, audit.Entry{Checkpoint: &cp})
	}
	return nil
}

// Records returns a copy of the records written so far.
func (m *Memory) Records() []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]audit.Record, 0, len(m.entries))
	for _, e := range m.entries {
		if e.Record != nil {
			out = append(out, *e.Record)
		}
	}
	return out
}

// Events returns the events written so far, in order, as the chain stored
// them (sequence numbers aside: Time filled in where it was missing).
func (m *Memory) Events() []audit.Event {
	recs := m.Records()
	out := make([]audit.Event, len(recs))
	for i, r := range recs {
		out[i] = r.Event
	}
	return out
}

// EventsWith returns the events written so far whose action is action, in
// order.
func (m *Memory) EventsWith(action audit.Action) []audit.Event {
	var out []audit.Event
	for _, e := range m.Events() {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// Actions returns the action of every event written so far, in order.
func (m *Memory) Actions() []audit.Action {
	var out []audit.Action
	for _, e := range m.Events() {
		out = append(out, e.Action)
	}
	return out
}

// Last returns the last event written, the zero Event when there is none.
func (m *Memory) Last() audit.Event {
	ev := m.Events()
	if len(ev) == 0 {
		return audit.Event{}
	}
	return ev[len(ev)-1]
}

// Entries yields the records and checkpoints written so far, in order.
func (m *Memory) Entries(ctx context.Context) iter.Seq2[audit.Entry, error] {
	m.mu.Lock()
	snapshot := append([]audit.Entry(nil), m.entries...)
	m.mu.Unlock()
	return func(yield func(audit.Entry, error) bool) {
		for _, e := range snapshot {
			if err := ctx.Err(); err != nil {
				yield(audit.Entry{}, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}
