package authtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/clock"
)

// RunClockSteps checks, with a fake clock, that an auth.Service over the
// stores newStore returns measures idle and absolute limits on a time line
// that never runs backwards: a backward step of the clock extends no
// session, and a forward step ends sessions as usual.
func RunClockSteps(t *testing.T, newStore SessionStoreFactory) {
	t.Helper()
	t.Run("BackwardStepDoesNotExtendIdle", func(t *testing.T) {
		c := newClockCase(t, newStore(t))
		idle, busy := c.begin(), c.begin()
		c.clk.Advance(14 * time.Minute)
		c.want(busy, http.StatusOK)
		c.clk.Advance(-time.Hour)
		c.want(busy, http.StatusOK) // the manager sees the step
		c.clk.Advance(2 * time.Minute)
		c.want(idle, http.StatusUnauthorized) // 16 minutes idle, though the clock says 44 minutes before login
		c.want(busy, http.StatusOK)
	})
	t.Run("BackwardStepDoesNotExtendAbsolute", func(t *testing.T) {
		c := newClockCase(t, newStore(t))
		tok := c.begin()
		for range 71 { // activity every 10 minutes up to 11 h 50 min
			c.clk.Advance(10 * time.Minute)
			c.want(tok, http.StatusOK)
		}
		c.clk.Advance(-time.Hour)
		c.want(tok, http.StatusOK)
		c.clk.Advance(9 * time.Minute)
		c.want(tok, http.StatusOK) // 11 h 59 min after login
		c.clk.Advance(time.Minute)
		c.want(tok, http.StatusUnauthorized) // 12 h after login, by the clock 11 h
	})
	t.Run("ForwardStepEnds", func(t *testing.T) {
		c := newClockCase(t, newStore(t))
		tok := c.begin()
		c.clk.Advance(time.Hour)
		c.want(tok, http.StatusUnauthorized)
	})
}

type clockCase struct {
	t     *testing.T
	clk   *clock.Fake
	users auth.UserStore
	user  *auth.User
	sm    *auth.Service
}

func newClockCase(t *testing.T, st auth.SessionStore) *clockCase {
	t.Helper()
	c := &clockCase{t: t, clk: clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), users: memstore.NewUserStore()}
	c.user = &auth.User{ID: auth.NewUserID(), TenantID: "clinic-a", Name: "ana", Status: auth.StatusActive}
	if err := c.users.Create(context.Background(), c.user); err != nil {
		t.Fatal(err)
	}
	sm, err := auth.New(auth.Config{Users: c.users, Sessions: st, Audit: audit.Discard{},
		Emergencies: memstore.NewEmergencyLog(), Clock: c.clk})
	if err != nil {
		t.Fatal(err)
	}
	c.sm = sm
	return c
}

func (c *clockCase) begin() string {
	c.t.Helper()
	_, tok, err := c.sm.Begin(context.Background(), nil, nil, c.user, false)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// want sends a GET with session token tok and checks the status.
func (c *clockCase) want(tok string, status int) {
	c.t.Helper()
	h := c.sm.Session(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	if rr.Code != status {
		c.t.Fatalf("at %v: status %d, want %d", c.clk.Now().Format(time.TimeOnly), rr.Code, status)
	}
}
