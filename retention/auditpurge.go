package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// AuditLog is the audit trail as PurgeAudit needs it: *audit.FileLog
// implements it (purging whole segments only).
type AuditLog interface {
	Purge(ctx context.Context, opts audit.PurgeOptions) (audit.PurgeReport, error)
}

// ErrNoAuditPolicy reports a purge of the audit trail without a policy for
// KindAudit: nothing is ever disposed of without a policy.
var ErrNoAuditPolicy = errors.New("retention: no policy for the audit trail (kind \"audit\")")

// purgeMargin is added to the computed retention so that the audit log,
// which reads its own clock a moment later, never cuts younger than the
// policy allows.
const purgeMargin = time.Minute

// AuditRetention converts the KindAudit policy into the duration the audit
// package's purge functions take: every event at least that old at now has
// passed its calendar retention (Period.AddTo, including the leap-day rule).
// It errs on the long side, by at most five days and one minute.
func AuditRetention(policies Policies, now time.Time) (time.Duration, error) {
	p, ok := policies.For(KindAudit)
	if !ok {
		return 0, ErrNoAuditPolicy
	}
	now = now.UTC()
	cutoff := now.AddDate(-p.Keep.Years, -p.Keep.Months, -p.Keep.Days)
	// AddTo keeps the time of day when it rolls a missing day forward, so an
	// instant up to a day before cutoff may fall due up to a day after
	// cutoff does; requiring a day of slack covers every earlier instant.
	for p.Keep.AddTo(cutoff).Add(24 * time.Hour).After(now) {
		cutoff = cutoff.AddDate(0, 0, -1)
	}
	return now.Sub(cutoff) + purgeMargin, nil
}

// AuditHeld reports whether holds keep audit records about subject: any
// active hold naming the subject (whatever its kind, since the trail is the
// evidence of what happened to the held records), and any hold on the whole
// KindAudit.
func AuditHeld(holds []Hold, subject string) bool {
	for _, h := range holds {
		if !h.Active() {
			continue
		}
		if (h.Subject != "" && h.Subject == subject) || (h.Subject == "" && h.Kind == KindAudit) {
			return true
		}
	}
	return false
}

// PurgeAudit applies the KindAudit policy to a file audit trail: it reads
// the active holds (failing closed when it cannot), and purges the oldest
// whole segments whose events have all passed retention and none of whose
// records is held (AuditHeld). The disposal ledger is an audit log too, but
// must not be purged this way while backups older than its entries exist.
func PurgeAudit(ctx context.Context, log AuditLog, policies Policies, holds HoldLister, now time.Time, dryRun bool) (audit.PurgeReport, error) {
	keep, err := AuditRetention(policies, now)
	if err != nil {
		return audit.PurgeReport{}, err
	}
	active, err := holds.Active(ctx)
	if err != nil {
		return audit.PurgeReport{}, fmt.Errorf("retention: cannot read legal holds, nothing purged: %w", err)
	}
	return log.Purge(ctx, audit.PurgeOptions{
		Retention: keep,
		Held:      func(r *audit.Record) bool { return AuditHeld(active, r.Event.Target.Subject) },
		DryRun:    dryRun,
		Actor:     audit.Actor{UserID: "hipaakit:retention"},
	})
}
