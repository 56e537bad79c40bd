package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
)

// PurgeAuditArchive applies the KindAudit policy to stream's audit archive
// (audit/archive) as PurgeAudit applies it to the log: the same retention
// (AuditRetention), the same holds (AuditHeld, failing closed when they
// cannot be read), whole units only, recorded in w after the fact.
func PurgeAuditArchive(ctx context.Context, a *archive.Archive, stream string, w audit.Writer, policies Policies, holds HoldLister, now time.Time, dryRun bool) (archive.PurgeReport, error) {
	keep, err := AuditRetention(policies, now)
	if err != nil {
		return archive.PurgeReport{}, err
	}
	active, err := holds.Active(ctx)
	if err != nil {
		return archive.PurgeReport{}, fmt.Errorf("retention: cannot read legal holds, nothing purged: %w", err)
	}
	return a.Purge(ctx, stream, archive.PurgeOptions{
		Retention: keep,
		Held:      func(r *audit.Record) bool { return AuditHeld(active, r.Event.Target.Subject) },
		DryRun:    dryRun,
		Audit:     w,
		Actor:     audit.Actor{UserID: "hipaakit:retention"},
	})
}
