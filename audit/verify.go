package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"hash"
	"iter"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/hipaakit/hipaakit/signing"
)

// AttrPurgedThrough is the Attrs key of a retention_purge event that names
// the last sequence number the purge removed. Verification accepts a log
// that starts at a signed anchor only when a recorded purge covers it.
const AttrPurgedThrough = "purged_through_seq"

// VerifyOptions configure a Verifier.
type VerifyOptions struct {
	// Keys are the trusted checkpoint public keys (the current key and
	// the rotated-out ones still trusted). A checkpoint signed by any other
	// key fails verification.
	Keys signing.KeySet
	// Expect are checkpoints kept outside the log (from a CheckpointSink).
	// Each is trusted only once its signature verifies with Keys: a
	// genuine one is checked against the records, and a log that ends
	// before it is truncated (ErrTruncated). A forged or foreign one is
	// never used (so it can neither fake truncation nor mask a genuine
	// checkpoint); verification fails with ProblemSignature naming it,
	// after the log has been checked against the genuine ones.
	Expect []Checkpoint
	// RequireSealed fails verification when records follow a stream's last
	// checkpoint (a log that was not closed cleanly, or whose tail was
	// appended without the signing key).
	RequireSealed bool
	// AllowUnanchoredStart accepts a stream whose first entry is a signed
	// anchor checkpoint that no recorded purge explains, for verifying a
	// part of a log.
	AllowUnanchoredStart bool
}

// StreamResult summarizes one verified stream.
type StreamResult struct {
	Stream      string
	StartSeq    uint64 // sequence number of the genesis (0) or anchor the stream starts after
	LastSeq     uint64 // last record's sequence number
	Head        Hash   // last record's hash
	Records     int64
	Checkpoints int64
	// CheckpointSeq is the highest sequence number a verified checkpoint
	// covers; Unsealed = LastSeq - CheckpointSeq records follow it.
	CheckpointSeq uint64
	Unsealed      uint64
}

// Result summarizes a verification.
type Result struct {
	Streams []StreamResult // sorted by stream name
}

type streamState struct {
	StreamResult
	prevHead      Hash // hash of record LastSeq-1
	started       bool
	purgedThrough uint64
	expect        []Checkpoint // sorted by Seq, not yet reached
}

// Verifier checks hash chains and checkpoints as entries stream through
// it: feed each stream's records in sequence order, each checkpoint after
// the record it covers, then call Finish. Streams may interleave. Memory
// grows with the number of streams, not records. The first failure is
// returned by that call (for a sequence gap: by the next call or Finish,
// which tell a deleted record from a reordered one) and by every later
// call; it is a *VerifyError naming the stream and sequence number.
type Verifier struct {
	opts    VerifyOptions
	keys    []ed25519.PublicKey // opts.Keys, once
	streams map[string]*streamState
	last    *streamState
	err     error
	h       hash.Hash
	scratch Record
	lite    liteScratch
	hs      hashScratch
	seg     string
	lineNo  int64
	gap     *VerifyError // a sequence gap awaiting the next entry
	// badExpect is the first of opts.Expect whose signature does not
	// verify; it is reported by Finish.
	badExpect *Checkpoint
}

// At tells the verifier where the next entry comes from (a segment file
// name and 1-based line number), so that a failure names the position too.
func (v *Verifier) At(segment string, line int64) { v.seg, v.lineNo = segment, line }

// NewVerifier returns a Verifier.
func NewVerifier(opts VerifyOptions) *Verifier {
	v := &Verifier{opts: opts, keys: opts.Keys.Keys(), streams: make(map[string]*streamState), h: sha256.New()}
	for i := range opts.Expect {
		c := opts.Expect[i]
		if c.Verify(v.keys...) != nil {
			if v.badExpect == nil {
				v.badExpect = &c
			}
			continue
		}
		s := v.state(c.Stream)
		s.expect = append(s.expect, c)
	}
	for _, s := range v.streams {
		sort.Slice(s.expect, func(i, j int) bool { return s.expect[i].Seq < s.expect[j].Seq })
	}
	v.last = nil
	return v
}

// Err returns the first failure found so far, if any. A sequence gap is
// classified (deleted or reordered) by the entry after it, or by Finish.
func (v *Verifier) Err() error { return v.err }

func (v *Verifier) state(stream string) *streamState {
	s := v.streams[stream]
	if s == nil {
		stream = strings.Clone(stream) // the caller's string may alias a reused buffer
		s = &streamState{StreamResult: StreamResult{Stream: stream}}
		v.streams[stream] = s
	}
	v.last = s
	return s
}

func (v *Verifier) fail(stream string, seq uint64, p Problem, err error) error {
	v.err = &VerifyError{Stream: strings.Clone(stream), Seq: seq, Problem: p, Segment: v.seg, Line: v.lineNo, Err: err}
	return v.err
}

// Line parses and verifies one record or checkpoint line (a stored
// canonical line; skips re-encoding).
func (v *Verifier) Line(line []byte) error {
	if v.err != nil {
		return v.err
	}
	line = trimNewline(line)
	if len(line) >= len(checkpointPrefix) && string(line[:len(checkpointPrefix)]) == string(checkpointPrefix) {
		c, err := ParseCheckpoint(line)
		if err != nil {
			return v.unreadable(err)
		}
		return v.Checkpoint(&c)
	}
	// The scratch record's strings alias line (no copy): it is read only
	// within this call.
	sum, err := parseRecordInto(line, unsafe.String(unsafe.SliceData(line), len(line)), &v.scratch, v.h, &v.lite)
	if err != nil {
		return v.unreadable(err)
	}
	return v.record(&v.scratch, sum)
}

// settleGap turns a pending sequence gap into the verifier's failure.
func (v *Verifier) settleGap(reordered bool) error {
	if reordered {
		v.gap.Problem = ProblemReordered
	}
	v.err, v.gap = v.gap, nil
	return v.err
}

func (v *Verifier) unreadable(err error) error {
	if v.gap != nil {
		return v.settleGap(false)
	}
	stream, seq := "", uint64(0)
	if v.last != nil {
		stream, seq = v.last.Stream, v.last.LastSeq+1
	}
	return v.fail(stream, seq, ProblemUnreadable, err)
}

// Record verifies the next record of its stream.
func (v *Verifier) Record(r *Record) error {
	if v.err != nil {
		return v.err
	}
	sum, err := r.computeHash(&v.hs)
	if err != nil {
		return v.unreadable(err)
	}
	return v.record(r, sum)
}

func (v *Verifier) record(r *Record, sum Hash) error {
	if v.gap != nil {
		return v.settleGap(r.Stream == v.gap.Stream && r.Seq == v.gap.Seq)
	}
	s := v.state(r.Stream)
	if sum != r.Hash {
		return v.fail(r.Stream, r.Seq, ProblemModified, ErrChainBroken)
	}
	if !s.started {
		s.started = true
		if r.Seq != 1 || !r.Prev.IsZero() {
			return v.fail(r.Stream, r.Seq, ProblemAnchor, ErrTruncated)
		}
		s.LastSeq, s.Head = 0, Hash{}
	}
	switch {
	case r.Seq == s.LastSeq+1:
		if r.Prev != s.Head {
			if s.LastSeq > s.StartSeq {
				// the predecessor's content agrees with its own hash, but
				// not with the hash its successor committed to: it was
				// rewritten together with its hash
				return v.fail(r.Stream, s.LastSeq, ProblemModified, ErrChainBroken)
			}
			return v.fail(r.Stream, r.Seq, ProblemInserted, ErrChainBroken)
		}
	case r.Seq > s.LastSeq+1:
		// deleted, or reordered if the missing record comes next: the
		// next entry decides
		v.gap = &VerifyError{Stream: s.Stream, Seq: s.LastSeq + 1, Problem: ProblemDeleted, Segment: v.seg, Line: v.lineNo, Err: ErrChainBroken}
		return nil
	case r.Seq == s.LastSeq && r.Hash == s.Head:
		return v.fail(r.Stream, r.Seq, ProblemDuplicated, ErrChainBroken)
	case r.Seq == s.LastSeq && r.Prev == s.prevHead:
		return v.fail(r.Stream, r.Seq, ProblemInserted, ErrChainBroken)
	default:
		return v.fail(r.Stream, r.Seq, ProblemReordered, ErrChainBroken)
	}
	s.prevHead, s.Head, s.LastSeq = s.Head, sum, r.Seq
	s.Records++
	if r.Event.Action == ActionRetentionPurge {
		if p, err := strconv.ParseUint(r.Event.Attrs[AttrPurgedThrough], 10, 64); err == nil && p > s.purgedThrough && p < r.Seq {
			s.purgedThrough = p
		}
	}
	for len(s.expect) > 0 && s.expect[0].Seq <= s.LastSeq {
		c := s.expect[0]
		s.expect = s.expect[1:]
		if c.Seq < s.LastSeq {
			continue // before this stream's start: purged
		}
		if c.Head != s.Head {
			return v.fail(c.Stream, c.Seq, ProblemCheckpoint, ErrChainBroken)
		}
	}
	return nil
}

// Checkpoint verifies a checkpoint found in the log. The first entry of a
// stream may be a signed anchor checkpoint (the stream continues after its
// Seq); any later checkpoint must cover the stream's last record.
func (v *Verifier) Checkpoint(c *Checkpoint) error {
	if v.err != nil {
		return v.err
	}
	if v.gap != nil {
		return v.settleGap(false)
	}
	s := v.state(c.Stream)
	if err := c.Verify(v.keys...); err != nil {
		return v.fail(c.Stream, c.Seq, ProblemSignature, ErrBadSignature)
	}
	if !s.started {
		s.started = true
		s.StartSeq, s.LastSeq, s.Head = c.Seq, c.Seq, c.Head
		for len(s.expect) > 0 && s.expect[0].Seq < c.Seq {
			s.expect = s.expect[1:]
		}
		if len(s.expect) > 0 && s.expect[0].Seq == c.Seq && s.expect[0].Head != c.Head {
			return v.fail(c.Stream, c.Seq, ProblemCheckpoint, ErrChainBroken)
		}
	}
	switch {
	case c.Seq > s.LastSeq:
		return v.fail(c.Stream, s.LastSeq+1, ProblemDeleted, ErrTruncated)
	case c.Seq < s.LastSeq:
		return v.fail(c.Stream, c.Seq, ProblemReordered, ErrChainBroken)
	case c.Head != s.Head:
		return v.fail(c.Stream, c.Seq, ProblemCheckpoint, ErrChainBroken)
	}
	s.Checkpoints++
	s.CheckpointSeq = c.Seq
	return nil
}

// Finish checks what can only be checked at the end — truncation before an
// expected checkpoint, a start that no recorded purge explains, an
// unsealed tail when required — and returns the per-stream summary.
func (v *Verifier) Finish() (Result, error) {
	if v.gap != nil {
		v.settleGap(false)
	}
	if v.err != nil {
		return Result{}, v.err
	}
	v.seg, v.lineNo = "", 0
	var res Result
	names := make([]string, 0, len(v.streams))
	for n := range v.streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := v.streams[n]
		if len(s.expect) > 0 {
			return Result{}, v.fail(n, s.LastSeq+1, ProblemTruncated, ErrTruncated)
		}
		if s.StartSeq > 0 && s.StartSeq > s.purgedThrough && !v.opts.AllowUnanchoredStart {
			return Result{}, v.fail(n, s.StartSeq, ProblemAnchor, ErrTruncated)
		}
		s.Unsealed = s.LastSeq - s.CheckpointSeq
		if v.opts.RequireSealed && s.Unsealed > 0 {
			return Result{}, v.fail(n, s.CheckpointSeq+1, ProblemTruncated, ErrTruncated)
		}
		res.Streams = append(res.Streams, s.StreamResult)
	}
	if c := v.badExpect; c != nil {
		return Result{}, v.fail(c.Stream, c.Seq, ProblemSignature, ErrBadSignature)
	}
	return res, nil
}

// Verify feeds entries to a Verifier with opts and finishes it. It stops at
// the first failure, or with the iterator's or the context's error.
func Verify(ctx context.Context, entries iter.Seq2[Entry, error], opts VerifyOptions) (Result, error) {
	v := NewVerifier(opts)
	n := 0
	for e, err := range entries {
		if err != nil {
			return Result{}, err
		}
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		switch {
		case e.Record != nil:
			err = v.Record(e.Record)
		case e.Checkpoint != nil:
			err = v.Checkpoint(e.Checkpoint)
		}
		if err != nil {
			return Result{}, err
		}
	}
	return v.Finish()
}
