package pgauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/internal/pgtest"
)

func TestSessionStoreConformance(t *testing.T) {
	authtest.RunSessionStore(t, func(t *testing.T) auth.SessionStore {
		pool := pgtest.New(t)
		if err := pgauth.MigrateSessions(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgauth.NewSessionStore(pool)
	})
}

func TestMigrateSessionsTwice(t *testing.T) {
	pool := pgtest.New(t)
	for range 2 {
		if err := pgauth.MigrateSessions(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmergencyLog(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
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
