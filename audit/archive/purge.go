package archive

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// PurgeOptions configure Purge; the fields mean what audit.PurgeOptions'
// do, and Audit is where the purge is recorded.
type PurgeOptions struct {
	// Retention is how long archived records are kept, from when they were
	// written; zero is six calendar years. Shorter than six years is
	// refused (audit.ErrRetentionTooShort) unless
	// AllowRetentionBelowSixYears is set.
	Retention                   time.Duration
	AllowRetentionBelowSixYears bool
	// Held, when set, keeps a unit holding any record it returns true for,
	// and every newer one.
	Held func(r *audit.Record) bool
	// DryRun reports what would be purged without changing anything.
	DryRun bool
	// Audit records the purge (an audit.ActionRetentionPurge event, after
	// the objects are deleted). Required unless DryRun.
	Audit audit.Writer
	// Actor is recorded as who purged (default the system user "hipaakit").
	Actor audit.Actor
}

// Reasons a purge stopped.
const (
	PurgeStopRetention = audit.PurgeStopRetention // the next unit's records are younger than the retention
	PurgeStopHeld      = audit.PurgeStopHeld      // the next unit holds a held record
	PurgeStopNewest    = "newest"                 // only the newest unit remains: it keeps the newest checkpoint
)

// PurgeReport says what Purge removed (or, in a dry run, would remove).
type PurgeReport struct {
	Stream     string
	Purged     []Unit
	ThroughSeq uint64
	StoppedBy  string
	DryRun     bool
}

// Purge removes stream's oldest archived units whose records were all
// written longer than the retention ago, none of whose records is held,
// oldest first and without gaps, never the newest unit (whose checkpoint
// the rest of the archive verifies against): for each, the segment, then
// its checkpoint, then its manifest. The tree tiles stay (hashes only, no
// record content), so what remains verifies from its first record. A
// Retainer target refuses deletes before the retention date, so the lock
// and this check agree. The purge is recorded in opts.Audit after the
// objects are gone.
func (a *Archive) Purge(ctx context.Context, stream string, opts PurgeOptions) (PurgeReport, error) {
	now := a.cfg.Clock.Now().UTC()
	if err := audit.CheckRetention(opts.Retention, opts.AllowRetentionBelowSixYears, now); err != nil {
		return PurgeReport{}, err
	}
	if opts.Audit == nil && !opts.DryRun {
		return PurgeReport{}, fmt.Errorf("%w: PurgeOptions.Audit is required to purge", ErrConfig)
	}
	units, err := a.Units(ctx, stream)
	if err != nil {
		return PurgeReport{}, err
	}
	rep := PurgeReport{Stream: stream, DryRun: opts.DryRun, StoppedBy: PurgeStopNewest}
	for i := 0; i+1 < len(units); i++ {
		u := units[i]
		if !audit.RetentionPassedBefore(u.WrittenBy, now, opts.Retention) {
			rep.StoppedBy = PurgeStopRetention
			break
		}
		if opts.Held != nil {
			held, err := a.held(ctx, u, opts.Held)
			if err != nil {
				return rep, err
			}
			if held {
				rep.StoppedBy = PurgeStopHeld
				break
			}
		}
		rep.Purged = append(rep.Purged, u)
		rep.ThroughSeq = u.Last
	}
	if len(rep.Purged) == 0 || opts.DryRun {
		return rep, nil
	}
	dir := streamDir(stream)
	for _, u := range rep.Purged {
		for _, name := range []string{segmentObject(u.First), checkpointName(u.Last), unitName(u.First)} {
			if err := a.cfg.Target.Delete(ctx, dir+name); err != nil {
				return rep, fmt.Errorf("audit/archive: purge %s: %w", name, err)
			}
		}
	}
	actor := opts.Actor
	if actor.UserID == "" {
		actor = audit.Actor{UserID: "hipaakit"}
	}
	err = opts.Audit.Write(ctx, audit.Event{
		Action: audit.ActionRetentionPurge, Outcome: audit.OutcomeSuccess, Reason: "retention_expired",
		Actor: actor, Origin: audit.Origin{Channel: audit.ChannelSystem},
		Attrs: map[string]string{
			"archive":                "true",
			"archived_stream":        stream,
			"archive_purged_through": strconv.FormatUint(rep.ThroughSeq, 10),
			"units":                  strconv.Itoa(len(rep.Purged)),
		},
	})
	if err != nil {
		return rep, fmt.Errorf("audit/archive: the purge happened but recording it failed: %w", err)
	}
	return rep, nil
}

// held reports whether any record of u is held. A unit whose segment is
// already gone (a purge interrupted after deleting it) holds nothing.
func (a *Archive) held(ctx context.Context, u Unit, held func(*audit.Record) bool) (bool, error) {
	b, err := a.segment(ctx, u)
	if err != nil {
		if _, gerr := a.cfg.Target.Get(ctx, streamDir(u.Stream)+segmentObject(u.First)); isNotFound(gerr) {
			return false, nil
		}
		return false, err
	}
	recs, err := segmentRecords(b, u.Stream)
	if err != nil {
		return false, err
	}
	for i := range recs {
		if held(&recs[i]) {
			return true, nil
		}
	}
	return false, nil
}
