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

// TestSweeperRecordsAbandonedSessions: a session nobody uses again is
// deleted by the clinic's sweeper once idle past the timeout, with a
// session_timeout event, without any further request on it.
func TestSweeperRecordsAbandonedSessions(t *testing.T) {
	onEveryStore(t, func(t *testing.T, s storeSetup) {
		s.cfg.SessionSweep = 5 * time.Millisecond
		tc := startClinicWith(t, s.cfg, nil, nil)
		tc.login(roleNurse)
		uid := tc.users[roleNurse].ID
		tc.clock.Advance(s.cfg.IdleTimeout + time.Minute)
		// The sweeper runs on the real ticker; wait (bounded) for its pass.
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := 0
			for _, ev := range tc.events(t) {
				if ev.Action == audit.ActionSessionTimeout && ev.Actor.UserID == uid && ev.Reason == "idle_timeout" {
					n++
				}
			}
			if n == 1 {
				break
			}
			if n > 1 || time.Now().After(deadline) {
				t.Fatalf("%d session_timeout events for the abandoned session, want 1", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		left, err := tc.app.d.Sessions.ListUserSessions(context.Background(), uid)
		if err != nil || len(left) != 0 {
			t.Fatalf("sessions left after the sweep: %d (%v)", len(left), err)
		}
	})
}

// TestForgottenAttemptCountsPurged: the housekeeping deletes the attempt
// counts idle past time.Hour /* auth.LockoutConfig.ForgetAfter */, so that guesses on ever new names do not
// grow the attempt store without bound.
func TestForgottenAttemptCountsPurged(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.SessionSweep = 5 * time.Millisecond
	tc := startClinicWith(t, cfg, nil, nil)
	counts := func() int {
		m, err := filepath.Glob(filepath.Join(cfg.DataDir, hipaakit.DirAttempts, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		return len(m)
	}
	tc.anon().raw("POST", "/api/auth/login", map[string]string{"tenant_id": demoTenant, "name": "no-such-user", "password": "wrong password 1234"})
	if counts() == 0 {
		t.Fatal("a failed login on an unknown name left no attempt count")
	}
	tc.clock.Advance(time.Hour + time.Minute)
	for deadline := time.Now().Add(10 * time.Second); counts() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempt counts left after %v idle", counts(), time.Hour+time.Minute)
		}
	}
}
