package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/durable"
)

// DefaultRetentionYears is how long the trail is kept by default: six
// years, the documentation retention of 45 CFR 164.316(b)(2).
const DefaultRetentionYears = 6

// ErrRetentionTooShort reports a purge asked to keep the audit trail for
// less than six calendar years without AllowRetentionBelowSixYears.
var ErrRetentionTooShort = errors.New("audit: retention is shorter than six calendar years (45 CFR 164.316(b)(2))")

// SixYearsAfter returns t plus six calendar years, in UTC, keeping the time
// of day; February 29 rolls forward to March 1 (2024-02-29 + 6y =
// 2030-03-01), so a record is never due before six full years have passed.
// It is hipaakit's one definition of the six-year retention: the audit
// purges, retention's audit policy and the compliance report all use it.
func SixYearsAfter(t time.Time) time.Time { return t.UTC().AddDate(DefaultRetentionYears, 0, 0) }

// SixYearsPassed reports whether a record written at written has been kept
// six calendar years (SixYearsAfter) at now.
func SixYearsPassed(written, now time.Time) bool { return !SixYearsAfter(written).After(now) }

// RetentionCoversSixYears reports whether keeping records for d keeps
// every one of them at least six calendar years when purging at now: a
// record exactly d old at now has passed SixYearsAfter.
func RetentionCoversSixYears(d time.Duration, now time.Time) bool {
	return d > 0 && SixYearsPassed(now.Add(-d), now)
}

// RetentionPassedBefore reports whether every record written before bound
// has passed retention at now: six calendar years (SixYearsAfter) when
// retention is zero, else retention. Because February 29 rolls forward
// onto March 1, a record of February 29 can fall due after one written
// later on March 1; the six-year rule accounts for it.
func RetentionPassedBefore(bound, now time.Time, retention time.Duration) bool {
	last := bound.UTC().Add(-time.Nanosecond) // the latest instant before bound
	if retention > 0 {
		return !last.Add(retention).After(now)
	}
	due := SixYearsAfter(last)
	if leapEnd := time.Date(last.Year(), time.February, 29, 23, 59, 59, 999999999, time.UTC); leapEnd.Month() == time.February && !leapEnd.After(last) {
		if d := SixYearsAfter(leapEnd); d.After(due) {
			due = d
		}
	}
	return !due.After(now)
}

// CheckRetention enforces the six-year floor on a purge of the audit trail
// at now: zero (six calendar years) and any retention that covers six
// calendar years pass; a shorter one fails with ErrRetentionTooShort unless
// allowShort (the separately named override, e.g.
// PurgeOptions.AllowRetentionBelowSixYears) is set. Both stores use it.
func CheckRetention(retention time.Duration, allowShort bool, now time.Time) error {
	switch {
	case retention < 0:
		return ErrRetentionTooShort
	case retention == 0 || allowShort || RetentionCoversSixYears(retention, now):
		return nil
	}
	return ErrRetentionTooShort
}

// PurgeOptions configure FileLog.Purge.
type PurgeOptions struct {
	// Retention keeps every record written less than this long ago. Zero
	// means six calendar years (SixYearsAfter); a shorter retention is
	// refused with ErrRetentionTooShort unless AllowRetentionBelowSixYears
	// is set.
	Retention time.Duration
	// AllowRetentionBelowSixYears accepts a Retention shorter than six
	// calendar years, below the documentation retention of 45 CFR
	// 164.316(b)(2): only for tests and trails that are not the HIPAA
	// audit trail.
	AllowRetentionBelowSixYears bool
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
	// Cutoff is now minus the retention (six calendar years by default),
	// for the record; which segments go is decided per segment by
	// RetentionPassedBefore, which also accounts for February 29.
	Cutoff     time.Time
	Purged     []SegmentInfo
	ThroughSeq uint64 // the last purged record's sequence number (0 if none)
	StoppedBy  string // PurgeStop*
	DryRun     bool
}

// Purge removes the oldest segments whose records were all written longer
// than the retention ago and none of whose records is held. It decides by
// when records were written, never by their Event.Time (which the caller
// supplies): a segment's records were all written before the signed anchor
// checkpoint that starts the next segment, so the segment goes once that
// anchor's time has passed the retention. It purges whole segments only,
// oldest first and without gaps, and never the segment being written.
// Before removing anything it records a retention_purge event naming the
// last purged sequence number (Attrs[AttrPurgedThrough]) and signs a
// checkpoint covering it, so the log stays sealed; the first remaining
// segment starts with a signed anchor checkpoint of the purged records, so
// what remains still verifies, and verification rejects a log whose start
// no recorded purge explains. Concurrent calls run one after the other.
func (l *FileLog) Purge(ctx context.Context, opts PurgeOptions) (PurgeReport, error) {
	l.purgeMu.Lock()
	defer l.purgeMu.Unlock()
	now := l.opts.Clock.Now().UTC()
	if err := CheckRetention(opts.Retention, opts.AllowRetentionBelowSixYears, now); err != nil {
		return PurgeReport{}, err
	}
	rep := PurgeReport{Cutoff: now.AddDate(-DefaultRetentionYears, 0, 0), DryRun: opts.DryRun, StoppedBy: PurgeStopActive}
	if opts.Retention > 0 {
		rep.Cutoff = now.Add(-opts.Retention)
	}
	segs, err := l.reader.Segments()
	if err != nil {
		return rep, err
	}
	for i := 0; i+1 < len(segs); i++ {
		stop, err := l.purgeable(ctx, segs[i], segs[i+1], now, opts.Retention, opts.Held)
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
	// seal the purge record before anything is removed
	if _, err := l.Checkpoint(ctx); err != nil {
		return rep, err
	}
	for _, s := range rep.Purged {
		if err := durable.RemoveDurable(filepath.Join(l.dir, s.Name)); err != nil {
			return rep, fmt.Errorf("audit: purge segment: %w", err)
		}
	}
	return rep, nil
}

// purgeable decides whether seg may go: next starting with a valid signed
// anchor, every record of seg written longer than the retention ago at
// now, and no record of seg held. It returns a PurgeStop* reason when it
// may not.
func (l *FileLog) purgeable(ctx context.Context, seg, next SegmentInfo, now time.Time, retention time.Duration, held func(*Record) bool) (string, error) {
	s, stop, err := l.sealedSegment(ctx, seg, next, held)
	if err != nil || stop != "" {
		return stop, err
	}
	if !RetentionPassedBefore(s.WrittenBy, now, retention) {
		return PurgeStopRetention, nil
	}
	return "", nil
}

// sealedSegment returns what bounds when seg's records were written, next
// being the segment after it, which must start with a valid signed anchor.
// That bound is a signed checkpoint's time only: the last checkpoint of seg
// when it covers seg's last record, else the anchor of next (created after
// seg's last record was written). It stops with PurgeStopHeld at the first
// record held says is held.
func (l *FileLog) sealedSegment(ctx context.Context, seg, next SegmentInfo, held func(*Record) bool) (SealedSegment, string, error) {
	anchor, err := l.nextAnchor(ctx, next)
	if err != nil {
		return SealedSegment{}, "", err
	}
	stop, lastSeq := "", uint64(0)
	var sealed Checkpoint // the last checkpoint, if it follows the last record
	err = l.reader.scanSegment(ctx, seg.Name, false, nil, func(raw rawLine) (bool, error) {
		if bytes.HasPrefix(raw.line, checkpointPrefix) {
			if c, err := ParseCheckpoint(raw.line); err == nil && c.Seq == lastSeq && c.Stream == l.opts.Stream && c.Verify(l.keys()...) == nil {
				sealed = c
			}
			return true, nil
		}
		r, err := ParseRecord(raw.line)
		if err != nil {
			return false, &LineError{Segment: raw.seg, Line: raw.lineNo, Offset: raw.off, Err: err}
		}
		lastSeq, sealed = r.Seq, Checkpoint{}
		if held != nil && held(&r) {
			stop = PurgeStopHeld
		}
		return stop == "", nil
	})
	if err != nil && err != errStopScan {
		return SealedSegment{}, "", err
	}
	if stop != "" {
		return SealedSegment{}, stop, nil
	}
	writtenBy := anchor.Time
	if !sealed.Time.IsZero() && sealed.Time.Before(writtenBy) {
		writtenBy = sealed.Time
	}
	return SealedSegment{SegmentInfo: seg, LastSeq: next.FirstSeq - 1, WrittenBy: writtenBy}, "", nil
}

// keys returns the public keys the log trusts: its own and the previous ones.
func (l *FileLog) keys() []ed25519.PublicKey { return l.trusted.Keys() }

// nextAnchor returns the signed anchor checkpoint that starts next; it
// must verify, or what remains after a purge would not.
func (l *FileLog) nextAnchor(ctx context.Context, next SegmentInfo) (Checkpoint, error) {
	var anchor Checkpoint
	err := l.reader.scanSegment(ctx, next.Name, false, nil, func(raw rawLine) (bool, error) {
		if err := checkAnchorLine(raw); err != nil {
			return false, err
		}
		c, _ := ParseCheckpoint(raw.line)
		// anchors written before a key rotation verify under a previous key
		if c.Verify(l.keys()...) != nil || c.Stream != l.opts.Stream {
			return false, &VerifyError{Stream: l.opts.Stream, Seq: c.Seq, Problem: ProblemSignature, Segment: raw.seg, Line: 1, Err: ErrBadSignature}
		}
		anchor = c
		return false, nil
	})
	if err != nil && err != errStopScan {
		return Checkpoint{}, err
	}
	if anchor.Time.IsZero() {
		return Checkpoint{}, &VerifyError{Stream: l.opts.Stream, Seq: next.FirstSeq, Problem: ProblemAnchor, Segment: next.Name, Line: 1, Err: ErrTruncated}
	}
	return anchor, nil
}
