package main

import (
	"net/http"
	"testing"
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
