package main

import (
	"context"
	"time"
)

// defaultSessionSweep is how often the clinic sweeps expired sessions by
// default: abandoned sessions are deleted, and their session_timeout events
// recorded, within a minute of expiring.
const defaultSessionSweep = time.Minute

// startSweeper runs the session manager's sweeper until Close, which stops
// it and waits for it before the stores close. On PostgreSQL every replica
// sweeps; a session is ended (and its timeout recorded) once.
func (a *app) startSweeper() {
	interval := a.cfg.SessionSweep
	if interval <= 0 {
		interval = defaultSessionSweep
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.sm.SweepEvery(ctx, interval) // returns ctx's error at Close
	}()
	a.closers = append(a.closers, func() error {
		cancel()
		<-done
		return nil
	})
}
