package hipaakit

import (
	"context"
	"sync"
	"time"
)

// DefaultSweepInterval is Config.SweepInterval's default: abandoned
// sessions are deleted, and their session_timeout events recorded, within
// a minute of expiring.
const DefaultSweepInterval = time.Minute

// defaultForgetAfter is auth.LockoutConfig.ForgetAfter's default.
const defaultForgetAfter = time.Hour

// startHousekeeping runs the housekeeping until Close, which stops it and
// waits for it before the stores close: the session manager's sweeper, and
// the purge of forgotten login-attempt counts (which bounds the attempt
// store), both every Config.SweepInterval. On PostgreSQL every replica
// sweeps; a session is ended (and its timeout recorded) once.
func (d *Deployment) startHousekeeping() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.runHousekeeping(ctx) })
	d.closers = append(d.closers, func() error {
		cancel()
		wg.Wait()
		return nil
	})
}

// runHousekeeping runs the housekeeping every Config.SweepInterval until ctx
// ends.
func (d *Deployment) runHousekeeping(ctx context.Context) {
	interval := d.cfg.SweepInterval
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = d.SessionManager.SweepEvery(ctx, interval) }) // returns ctx's error
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := d.PurgeAttempts(ctx); err != nil && ctx.Err() == nil {
					d.Logger.Error("hipaakit: purge login-attempt counts", "err", err)
				}
			}
		}
	})
	wg.Wait()
}

// PurgeAttempts deletes the login-attempt counts idle for longer than
// Auth.Lockout.ForgetAfter (default one hour), which the throttles have
// forgotten anyway.
func (d *Deployment) PurgeAttempts(ctx context.Context) error {
	forget := d.cfg.Auth.Lockout.ForgetAfter
	if forget <= 0 {
		forget = defaultForgetAfter
	}
	return d.purgeAttempts(ctx, d.Clock.Now().Add(-forget))
}

// Sweep runs one pass of the housekeeping now (Open already runs it every
// Config.SweepInterval): it ends expired sessions, recording their
// session_timeout events, and purges forgotten login-attempt counts. It
// returns how many sessions it ended.
func (d *Deployment) Sweep(ctx context.Context) (int, error) {
	n, err := d.SessionManager.Sweep(ctx)
	if err != nil {
		return n, err
	}
	return n, d.PurgeAttempts(ctx)
}
