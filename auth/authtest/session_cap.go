package authtest

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
)

// RunSessionCap checks TenantPolicy.MaxSessionsPerUser on an auth.Service
// over the stores newStore returns: a login beyond the cap ends the user's
// oldest sessions, each with one logout event (reason session_limit); other
// users' sessions are untouched, and a zero cap means unlimited.
func RunSessionCap(t *testing.T, newStore SessionStoreFactory) {
	t.Helper()
	t.Run("OldestEnd", func(t *testing.T) {
		c := newCapCase(t, newStore(t), 2)
		bob := c.addUser("bob")
		bobTok := c.begin(bob)
		t1 := c.begin(c.user)
		c.clk.Advance(time.Second)
		t2 := c.begin(c.user)
		c.clk.Advance(time.Second)
		t3 := c.begin(c.user)
		c.want(t1, http.StatusUnauthorized)
		c.want(t2, http.StatusOK)
		c.want(t3, http.StatusOK)
		c.want(bobTok, http.StatusOK)
		c.clk.Advance(time.Second)
		c.begin(c.user)
		c.want(t2, http.StatusUnauthorized)
		c.want(t3, http.StatusOK)
		if got := c.limitEvents(); got != 2 {
			t.Fatalf("%d session_limit events, want 2", got)
		}
		if n := c.count(c.user.ID); n != 2 {
			t.Fatalf("%d sessions stored, want 2", n)
		}
	})
	t.Run("ConcurrentLogins", func(t *testing.T) {
		const n, limit = 8, 2
		c := newCapCase(t, newStore(t), limit)
		var start, done sync.WaitGroup
		start.Add(1)
		errs := make(chan error, n)
		for range n {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				_, _, err := c.sm.Begin(context.Background(), nil, nil, c.user, false)
				errs <- err
			}()
		}
		start.Done()
		done.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		left := c.count(c.user.ID)
		if left < 1 || left > limit {
			t.Fatalf("%d sessions left after %d concurrent logins, want 1..%d", left, n, limit)
		}
		if ev := c.limitEvents(); ev != n-left {
			t.Fatalf("%d session_limit events for %d ended sessions", ev, n-left)
		}
	})
	t.Run("ZeroIsUnlimited", func(t *testing.T) {
		c := newCapCase(t, newStore(t), 0)
		for range 5 {
			c.begin(c.user)
		}
		if n, ev := c.count(c.user.ID), c.limitEvents(); n != 5 || ev != 0 {
			t.Fatalf("%d sessions, %d session_limit events; want 5, 0", n, ev)
		}
	})
}

type capCase struct {
	clockCase
	mu     sync.Mutex
	events []audit.Event
	store  auth.SessionStore
}

func newCapCase(t *testing.T, st auth.SessionStore, limit int) *capCase {
	t.Helper()
	c := &capCase{store: st}
	c.t, c.clk, c.users = t, clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), memstore.NewUserStore()
	c.user = c.addUser("ana")
	pols, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic-a", MaxSessionsPerUser: limit})
	if err != nil {
		t.Fatal(err)
	}
	c.sm, err = auth.New(auth.Config{Users: c.users, Sessions: st, Emergencies: memstore.NewEmergencyLog(),
		Tenants: pols, Clock: c.clk, Audit: audit.WriterFunc(func(_ context.Context, e audit.Event) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.events = append(c.events, e)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *capCase) addUser(name string) *auth.User {
	c.t.Helper()
	u := &auth.User{ID: auth.NewUserID(), TenantID: "clinic-a", Name: name, Status: auth.StatusActive}
	if err := c.users.Create(context.Background(), u); err != nil {
		c.t.Fatal(err)
	}
	return u
}

func (c *capCase) begin(u *auth.User) string {
	c.t.Helper()
	_, tok, err := c.sm.Begin(context.Background(), nil, nil, u, false)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

func (c *capCase) limitEvents() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.events {
		if e.Action == audit.ActionLogout && e.Reason == "session_limit" && e.Actor.UserID == c.user.ID {
			n++
		}
	}
	return n
}

func (c *capCase) count(userID string) int {
	c.t.Helper()
	ss, err := c.store.ListUserSessions(context.Background(), userID)
	if err != nil {
		c.t.Fatal(err)
	}
	return len(ss)
}
