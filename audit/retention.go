package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/internal/fsutil"
)

// DefaultRetentionYears is how long the trail is kept by default: six
// years, the documentation retention of 45 CFR 164.316(b)(2).
const DefaultRetentionYears = 6

// PurgeOptions configure FileLog.Purge.
type PurgeOptions struct {
	// Retention keeps every event younger than this. Zero means
	// DefaultRetentionYears calendar years.
	Retention time.Duration
	// Held, when set, is asked about every record of a segment that is
	// old enough to purge; if it returns true for any record (for example
	// one whose subject is under legal hold), that segment and every newer
	// one are kept.
	Held func(r *Record) bool
	// DryRun reports what would be purged without changing anything.
	DryRun bool
	// Actor is recorded as who purged (default the system user "hipaakit").
	Actor Actor
}

// Reasons a purge stopped before the newest segment.
const (
	PurgeStopRetention = "retention" // the next segment holds an event younger than the cutoff
	PurgeStopHeld      = "held"      // the next segment holds a record under hold
	PurgeStopActive    = "active"    // only the segment being written remains
)

// PurgeReport says what a purge removed (or, in a dry run, would remove)
// and why it stopped.
type PurgeReport struct {
	Cutoff     time.Time
	Purged     []SegmentInfo
	ThroughSeq uint64 // the last purged record's sequence number (0 if none)
	StoppedBy  string // PurgeStop*
	DryRun     bool
}

// Purge removes the oldest segments whose events are all older than the
// retention and none of whose records is held. It purges whole segments
// only, oldest first and without gaps, and never the segment being
// written. Before removing anything it records a retention_purge event
// naming the last purged sequence number (Attrs[AttrPurgedThrough]); the
// first remaining segment starts with a signed anchor checkpoint of the
// purged records, so what remains still verifies, and verification rejects
// a log whose start no recorded purge explains. Concurrent calls run one
// after the other.
func (l *FileLog) Purge(ctx context.Context, opts PurgeOptions) (PurgeReport, error) {
	l.purgeMu.Lock()
	defer l.purgeMu.Unlock()
	now := l.opts.Clock.Now().UTC()
	rep := PurgeReport{Cutoff: now.AddDate(-DefaultRetentionYears, 0, 0), DryRun: opts.DryRun, StoppedBy: PurgeStopActive}
	if opts.Retention > 0 {
		rep.Cutoff = now.Add(-opts.Retention)
	}
	segs, err := l.reader.Segments()
	if err != nil {
		return rep, err
	}
	for i := 0; i+1 < len(segs); i++ {
		stop, err := l.purgeable(ctx, segs[i], segs[i+1], rep.Cutoff, opts.Held)
		if err != nil {
			return rep, err
		}
		if stop != "" {
			rep.StoppedBy = stop
			break
		}
		rep.Purged = append(rep.Purged, segs[i])
		rep.ThroughSeq = segs[i+1].FirstSeq - 1
	}
	if len(rep.Purged) == 0 || opts.DryRun {
		return rep, nil
	}
	actor := opts.Actor
	if actor.UserID == "" {
		actor = Actor{UserID: "hipaakit"}
	}
	e := Event{
		Action:  ActionRetentionPurge,
		Outcome: OutcomeSuccess,
		Reason:  "retention_expired",
		Actor:   actor,
		Origin:  Origin{Channel: ChannelSystem},
		Attrs: map[string]string{
			AttrPurgedThrough: strconv.FormatUint(rep.ThroughSeq, 10),
			"segments":        strconv.Itoa(len(rep.Purged)),
			"first_segment":   rep.Purged[0].Name,
			"last_segment":    rep.Purged[len(rep.Purged)-1].Name,
			"cutoff":          rep.Cutoff.Format(time.RFC3339),
		},
	}
	if err := l.Write(ctx, e); err != nil {
		return rep, err
	}
	for _, s := range rep.Purged {
		if err := fsutil.RemoveDurable(filepath.Join(l.dir, s.Name)); err != nil {
			return rep, fmt.Errorf("audit: purge segment: %w", err)
		}
	}
	_, err = l.Checkpoint(ctx)
	return rep, err
}

// purgeable decides whether seg may go: every event older than cutoff, no
// record held, and next starting with a valid signed anchor. It returns a
// PurgeStop* reason when it may not.
func (l *FileLog) purgeable(ctx context.Context, seg, next SegmentInfo, cutoff time.Time, held func(*Record) bool) (string, error) {
	stop := ""
	err := l.reader.scanSegment(ctx, seg.Name, false, nil, func(raw rawLine) (bool, error) {
		if bytes.HasPrefix(raw.line, checkpointPrefix) {
			return true, nil
		}
		r, err := ParseRecord(raw.line)
		if err != nil {
			return false, &LineError{Segment: raw.seg, Line: raw.lineNo, Offset: raw.off, Err: err}
		}
		switch {
		case !r.Event.Time.Before(cutoff):
			stop = PurgeStopRetention
		case held != nil && held(&r):
			stop = PurgeStopHeld
		}
		return stop == "", nil
	})
	if err != nil && err != errStopScan {
		return "", err
	}
	if stop != "" {
		return stop, nil
	}
	// the boundary anchor must verify, or what remains would not
	err = l.reader.scanSegment(ctx, next.Name, false, nil, func(raw rawLine) (bool, error) {
		if err := checkAnchorLine(raw); err != nil {
			return false, err
		}
		c, _ := ParseCheckpoint(raw.line)
		// anchors written before a key rotation verify under a previous key
		keys := append([]ed25519.PublicKey{l.pub}, l.opts.PreviousKeys...)
		if c.Verify(keys...) != nil || c.Stream != l.opts.Stream {
			return false, &VerifyError{Stream: l.opts.Stream, Seq: c.Seq, Problem: ProblemSignature, Segment: raw.seg, Line: 1, Err: ErrBadSignature}
		}
		return false, nil
	})
	if err != nil && err != errStopScan {
		return "", err
	}
	return "", nil
}
