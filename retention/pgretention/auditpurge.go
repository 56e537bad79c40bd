package pgretention

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/retention"
)

// AuditPurgeOptions configure PurgeAudit.
type AuditPurgeOptions struct {
	// Signer signs the anchor checkpoints pgaudit writes at the purge
	// boundary. Required.
	Signer crypto.Signer
	// Clock gives "now" (default: the system clock).
	Clock clock.Clock
	// DryRun reports what would be dropped and changes nothing (holds are
	// still synchronised).
	DryRun bool
}

// PurgeAudit applies the retention.KindAudit policy to the PostgreSQL audit
// trail in pool's schema (audit/pgaudit), which drops whole monthly
// partitions only.
//
// It first copies the legal holds that cover audit records into pgaudit's
// own hold table, which its purge function consults inside the database:
// every active hold naming a subject holds that subject's records (see
// retention.AuditHeld), a hold on the whole "audit" kind holds the entire
// trail, and lifted holds are released. It then purges with the calendar
// retention of the policy (retention.AuditRetention). It fails closed: when
// holds cannot be read or synchronised, nothing is purged.
func PurgeAudit(ctx context.Context, pool *pgxpool.Pool, policies retention.Policies, holds retention.HoldStore, opts AuditPurgeOptions) (pgaudit.PurgeResult, error) {
	now := clock.OrSystem(opts.Clock).Now()
	keep, err := retention.AuditRetention(policies, now)
	if err != nil {
		return pgaudit.PurgeResult{}, err
	}
	all, err := holds.List(ctx)
	if err != nil {
		return pgaudit.PurgeResult{}, fmt.Errorf("pgretention: cannot read legal holds, nothing purged: %w", err)
	}
	for _, h := range all {
		var err error
		switch {
		case !h.Active():
			if err = pgaudit.ReleaseHold(ctx, pool, h.ID); errors.Is(err, pgaudit.ErrHoldNotFound) {
				err = nil
			}
		case h.Subject != "":
			err = pgaudit.PlaceHold(ctx, pool, h.ID, h.Subject, h.Reason)
		case h.Kind == retention.KindAudit:
			err = pgaudit.PlaceHold(ctx, pool, h.ID, "", h.Reason)
		}
		if err != nil {
			return pgaudit.PurgeResult{}, fmt.Errorf("pgretention: cannot synchronise legal hold %s, nothing purged: %w", h.ID, err)
		}
	}
	return pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Retention: keep, Signer: opts.Signer, DryRun: opts.DryRun, Clock: opts.Clock})
}
