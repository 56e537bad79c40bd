package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
)

// TestUnknownNameThrottleSurvivesRestart: the back-off earned by guessing
// passwords for a name that matches no account is kept in the durable
// attempt store, so a restart of the clinic does not reset it.
func TestUnknownNameThrottleSurvivesRestart(t *testing.T) {
	onEveryStore(t, func(t *testing.T, s storeSetup) {
		tc := startClinicWith(t, s.cfg, nil, nil)
		guess := map[string]string{"tenant_id": demoTenant, "name": "no-such-user", "password": "wrong password 1234"}
		c := tc.anon()
		throttled := 0
		for range 6 {
			if st, _ := c.raw("POST", "/api/auth/login", guess); st == http.StatusTooManyRequests {
				throttled++
			}
		}
		if throttled == 0 {
			t.Fatal("six failed logins for an unknown name were never throttled")
		}
		clk, users := tc.clock, tc.users
		tc.stop()

		tc = startClinicWith(t, s.cfg, clk, users)
		if st, body := tc.anon().raw("POST", "/api/auth/login", guess); st != http.StatusTooManyRequests {
			t.Fatalf("after a restart the unknown name's guess answered %d (%s), want 429", st, body)
		}
	})
}

// sweepIdle is a sweep interval no test waits out: the housekeeping
// goroutine never fires during a test, which runs its passes itself
// (Deployment.Sweep) after moving the fake clock, so the counts are exact.
const sweepIdle = 24 * time.Hour

// TestSweeperRecordsAbandonedSessions: a session nobody uses again is
// deleted by the clinic's housekeeping once idle past the timeout, with one
// session_timeout event, without any further request on it; a pass before
// the timeout leaves it alone.
func TestSweeperRecordsAbandonedSessions(t *testing.T) {
	onEveryStore(t, func(t *testing.T, s storeSetup) {
		s.cfg.SessionSweep = sweepIdle
		tc := startClinicWith(t, s.cfg, nil, nil)
		tc.login(roleNurse)
		uid := tc.users[roleNurse].ID
		timeouts := func() int {
			n := 0
			for _, ev := range tc.events(t) {
				if ev.Action == audit.ActionSessionTimeout && ev.Actor.UserID == uid && ev.Reason == "idle_timeout" {
					n++
				}
			}
			return n
		}
		sessions := func() int {
			left, err := tc.app.d.Sessions.ListUserSessions(context.Background(), uid)
			if err != nil {
				t.Fatal(err)
			}
			return len(left)
		}
		ctx := context.Background()

		tc.clock.Advance(s.cfg.IdleTimeout - time.Second)
		if _, err := tc.app.d.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n, left := timeouts(), sessions(); n != 0 || left != 1 {
			t.Fatalf("a pass 1 s before the idle timeout: %d session_timeout events, %d sessions left; want 0 and 1", n, left)
		}
		tc.clock.Advance(2 * time.Second)
		if _, err := tc.app.d.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n, left := timeouts(), sessions(); n != 1 || left != 0 {
			t.Fatalf("a pass past the idle timeout: %d session_timeout events, %d sessions left; want 1 and 0", n, left)
		}
		if _, err := tc.app.d.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := timeouts(); n != 1 {
			t.Fatalf("a second pass: %d session_timeout events for the abandoned session, want still 1", n)
		}
	})
}

// TestForgottenAttemptCountsPurged: the housekeeping deletes the attempt
// counts idle past auth.LockoutConfig.ForgetAfter (an hour), so that guesses on ever new names do not
// grow the attempt store without bound; younger counts stay.
func TestForgottenAttemptCountsPurged(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t.TempDir())
	cfg.SessionSweep = sweepIdle
	tc := startClinicWith(t, cfg, nil, nil)
	counts := func() int {
		m, err := filepath.Glob(filepath.Join(cfg.DataDir, hipaakit.DirAttempts, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	tc.anon().raw("POST", "/api/auth/login", map[string]string{"tenant_id": demoTenant, "name": "no-such-user", "password": "wrong password 1234"})
	before := counts()
	if before == 0 {
		t.Fatal("a failed login on an unknown name left no attempt count")
	}
	ctx := context.Background()
	tc.clock.Advance(time.Hour - time.Minute)
	if _, err := tc.app.d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := counts(); n != before {
		t.Fatalf("%d attempt counts left after %v idle, want all %d (younger than %v)", n, time.Hour-time.Minute, before, time.Hour)
	}
	tc.clock.Advance(2 * time.Minute)
	if _, err := tc.app.d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := counts(); n != 0 {
		t.Fatalf("%d attempt counts left after %v idle, want 0", n, time.Hour+time.Minute)
	}
}
