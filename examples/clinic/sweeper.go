package main

import (
	"context"
	"sync"
	"time"
)

// defaultSessionSweep is how often the clinic sweeps expired sessions by
// default: abandoned sessions are deleted, and their session_timeout events
// recorded, within a minute of expiring.
const defaultSessionSweep = time.Minute

// attemptsForget is how long the login throttles remember a client key or
// an unknown name without attempts (auth.LockoutConfig.ForgetAfter); older
// counts are purged from the attempt store.
const attemptsForget = time.Hour

// startSweeper runs the housekeeping (sweepOnce) every cfg.SessionSweep
// until Close, which stops it and waits for it before the stores close. On
// PostgreSQL every replica sweeps; a session is ended (and its timeout
// recorded) once.
func (a *app) startSweeper() {
	interval := a.cfg.SessionSweep
	if interval <= 0 {
		interval = defaultSessionSweep
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
				a.sweepOnce(ctx)
			}
		}
	})
	a.closers = append(a.closers, func() error {
		cancel()
		wg.Wait()
		return nil
	})
}

// sweepOnce is one housekeeping pass, on the app's clock: the session
// manager deletes the expired sessions (recording a session_timeout event
// for each), and the login-attempt counts idle past attemptsForget are
// purged, which bounds the attempt store. Failures are logged; the next
// pass tries again.
func (a *app) sweepOnce(ctx context.Context) {
	if _, err := a.auth.Sweep(ctx); err != nil && ctx.Err() == nil {
		a.log.Error("clinic: session sweep", "err", err)
	}
	if a.purgeAttempts == nil {
		return
	}
	if err := a.purgeAttempts(ctx, a.now().Add(-attemptsForget)); err != nil && ctx.Err() == nil {
		a.log.Error("clinic: purge login-attempt counts", "err", err)
	}
}
