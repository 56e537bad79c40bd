package hipaakit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultSweepInterval is Config.SweepInterval's default: abandoned
// sessions are deleted, and their session_timeout events recorded, within
// a minute of expiring.
const DefaultSweepInterval = time.Minute

// defaultForgetAfter is auth.LockoutConfig.ForgetAfter's default.
const defaultForgetAfter = time.Hour

// startHousekeeping runs Sweep every Config.SweepInterval until Close,
// which stops it and waits for it before the stores close. On PostgreSQL
// every replica sweeps; a session is ended (and its timeout recorded) once.
func (d *Deployment) startHousekeeping() {
	interval := d.cfg.SweepInterval
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := d.Sweep(ctx); err != nil && ctx.Err() == nil {
					d.Logger.Error("hipaakit: housekeeping", "err", err)
				}
			}
		}
	})
	d.closers = append(d.closers, func() error {
		cancel()
		wg.Wait()
		return nil
	})
}

// Sweep runs one housekeeping pass now, on the deployment's clock (Open
// already runs one every Config.SweepInterval): the session manager deletes
// the expired sessions, recording a session_timeout event for each, and
// the login-attempt counts idle for longer than Auth.Lockout.ForgetAfter
// (default one hour), which the throttles have forgotten anyway, are
// purged, which bounds the attempt store. On PostgreSQL the disposal
// ledger's mirror (DirLedgerMirror) then takes over the disposals other
// processes recorded since (replicas, the CLI: disposal.Ledger.SyncMirror),
// so that a point-in-time restore of the database cannot bring their
// subjects back. With Config.AuditArchive, what of the audit trail is
// older than its After is then archived (one replica per pass on
// PostgreSQL; see AuditArchiveConfig). Every step runs whatever the
// others' errors; it returns
// how many sessions ended.
func (d *Deployment) Sweep(ctx context.Context) (int, error) {
	n, err := d.Auth.Sweep(ctx)
	forget := d.cfg.Auth.Lockout.ForgetAfter
	if forget <= 0 {
		forget = defaultForgetAfter
	}
	err = errors.Join(err, d.purgeAttempts(ctx, d.Clock.Now().Add(-forget)))
	if d.ledgerMirror != nil {
		if _, serr := d.Ledger.SyncMirror(ctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("hipaakit: copy disposals into the ledger's mirror: %w", serr))
		}
	}
	if d.auditArchive != nil {
		err = errors.Join(err, d.archiveAudit(ctx))
	}
	return n, err
}
