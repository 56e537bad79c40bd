package pgauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// newSessionStore is a session store in a fresh, migrated schema.
func newSessionStore(t *testing.T) auth.SessionStore {
	pool := hipaakittest.Postgres(t)
	if err := pgauth.MigrateSessions(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pgauth.NewSessionStore(pool)
}

func TestSessionStoreConformance(t *testing.T) {
	authtest.RunSessionStore(t, newSessionStore)
}

func TestMigrateSessionsTwice(t *testing.T) {
	pool := hipaakittest.Postgres(t)
	for range 2 {
		if err := pgauth.MigrateSessions(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmergencyLog(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgauth.MigrateSessions(ctx, pool); err != nil {
		t.Fatal(err)
	}
	l := pgauth.NewEmergencyLog(pool)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a := auth.EmergencyAccess{ID: "a1", UserID: "u", TenantID: "t", SessionID: "s", Role: "er", Reason: "code blue", StartedAt: t0, Until: t0.Add(time.Hour)}
	b := a
	b.ID, b.StartedAt = "a2", t0.Add(time.Minute)
	for _, x := range []auth.EmergencyAccess{b, a} {
		if err := l.PutEmergencyAccess(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	a.EndedAt, a.EndReason = t0.Add(10*time.Minute), "ended"
	if err := l.PutEmergencyAccess(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := l.EmergencyAccesses(ctx, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a1" || got[0].EndReason != "ended" || !got[0].EndedAt.Equal(a.EndedAt) || !got[1].EndedAt.IsZero() {
		t.Fatalf("report: %+v", got)
	}
	if got, _ := l.EmergencyAccesses(ctx, t0.Add(time.Minute), t0.Add(time.Hour)); len(got) != 1 || got[0].ID != "a2" {
		t.Fatalf("range: %+v", got)
	}
	if err := l.PutEmergencyAccess(ctx, auth.EmergencyAccess{}); err == nil {
		t.Fatal("incomplete record accepted")
	}
}

// The session manager over PostgreSQL: login, activity, rotation by
// re-authentication, idle timeout and the emergency log, with the
// microsecond precision of timestamptz.
func TestSessionManagerOnPostgres(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgauth.MigrateSessions(ctx, pool); err != nil {
		t.Fatal(err)
	}
	users := memstore.NewUserStore()
	u := &auth.User{ID: auth.NewUserID(), TenantID: "clinic-a", Name: "ana", Status: auth.StatusActive, Roles: []string{"physician"}}
	if err := users.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC))
	sm, err := auth.New(auth.Config{Users: users, Sessions: pgauth.NewSessionStore(pool), Audit: audit.Discard{},
		Emergencies: pgauth.NewEmergencyLog(pool), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := sm.Begin(ctx, nil, nil, u, true)
	if err != nil {
		t.Fatal(err)
	}
	var csrf string
	h := sm.Session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { csrf = sm.CSRFToken(r) }))
	send := func(method, tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/", nil)
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
		r.Header.Set("X-CSRF-Token", csrf)
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		return rr
	}
	for range 3 {
		clk.Advance(10 * time.Minute)
		if rr := send("GET", tok); rr.Code != 200 {
			t.Fatalf("active session refused: %d", rr.Code)
		}
	}
	reauth := sm.Session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := sm.Reauthenticated(w, r, true); err != nil {
			t.Error(err)
		}
	}))
	r := httptest.NewRequest("POST", "/", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	r.Header.Set("X-CSRF-Token", csrf)
	rr := httptest.NewRecorder()
	reauth.ServeHTTP(rr, r)
	fresh := rr.Result().Cookies()[0].Value
	if send("GET", tok).Code != 401 || send("GET", fresh).Code != 200 {
		t.Fatal("rotation on PostgreSQL: the old token must fail and the new one work")
	}
	clk.Advance(15 * time.Minute)
	if rr := send("GET", fresh); rr.Code != 401 {
		t.Fatalf("idle session accepted: %d", rr.Code)
	}
	if n, err := sm.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("the timed-out session must already be gone: %v %d", err, n)
	}
}

func TestClockStepsOnPostgres(t *testing.T) {
	authtest.RunClockSteps(t, newSessionStore)
}

func TestSessionCapOnPostgres(t *testing.T) {
	authtest.RunSessionCap(t, newSessionStore)
}
