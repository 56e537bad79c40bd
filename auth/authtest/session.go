// Package authtest holds the conformance suites that every implementation
// of auth's storage interfaces must pass (RunSessionStore for
// auth.SessionStore), so that the memory, file and PostgreSQL stores, and
// any store an application writes, keep the same contracts. The suites only
// call the interface; they never reach into a store's internals.
package authtest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

// SessionStoreFactory returns a new, empty store for one subtest. The
// factory arranges its own cleanup with t.Cleanup.
type SessionStoreFactory func(t *testing.T) auth.SessionStore

// RunSessionStore runs the SessionStore conformance suite against the
// stores newStore returns. Every implementation of auth.SessionStore must
// pass it; it checks the contracts written on the interface.
func RunSessionStore(t *testing.T, newStore SessionStoreFactory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, st auth.SessionStore)
	}{
		{"CreateAndGet", sessCreateAndGet},
		{"CreateDuplicate", sessCreateDuplicate},
		{"NotFound", sessNotFound},
		{"UpdateRotates", sessUpdateRotates},
		{"UpdateCompareAndSwap", sessUpdateCAS},
		{"UpdateHashCollision", sessUpdateHashCollision},
		{"Delete", sessDelete},
		{"DeleteUserSessions", sessDeleteUser},
		{"ListUserSessions", sessListUser},
		{"ExpiredSessions", sessExpired},
		{"ReturnsCopies", sessCopies},
		{"ConcurrentRotation", sessConcurrentRotation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

var seq atomic.Int64

// Session returns a valid session of userID for tests; every call returns a
// new ID and token hash.
func Session(userID string) auth.Session {
	n := seq.Add(1)
	id := fmt.Sprintf("%032x", n)
	return auth.Session{
		ID:              id,
		TokenHash:       sha256.Sum256([]byte("token-" + id)),
		UserID:          userID,
		TenantID:        "tenant-1",
		CreatedAt:       base,
		LastSeenAt:      base.Add(time.Minute),
		AuthenticatedAt: base,
		IdleTimeout:     15 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
		ExpiresAt:       base.Add(16 * time.Minute),
		MFA:             true,
		Passkey:         true,
	}
}

func mustCreate(t *testing.T, st auth.SessionStore, s auth.Session) {
	t.Helper()
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

// equal compares sessions field by field (times with Equal, since stores
// may change the location or drop the monotonic reading).
func equal(t *testing.T, got, want auth.Session) {
	t.Helper()
	ok := got.ID == want.ID && got.TokenHash == want.TokenHash && got.UserID == want.UserID &&
		got.TenantID == want.TenantID && got.CreatedAt.Equal(want.CreatedAt) &&
		got.LastSeenAt.Equal(want.LastSeenAt) && got.AuthenticatedAt.Equal(want.AuthenticatedAt) &&
		got.IdleTimeout == want.IdleTimeout && got.AbsoluteTimeout == want.AbsoluteTimeout &&
		got.ExpiresAt.Equal(want.ExpiresAt) && got.MFA == want.MFA && got.Passkey == want.Passkey &&
		(got.Emergency == nil) == (want.Emergency == nil)
	if ok && got.Emergency != nil {
		g, w := got.Emergency, want.Emergency
		ok = g.AccessID == w.AccessID && g.Role == w.Role && g.Reason == w.Reason &&
			g.StartedAt.Equal(w.StartedAt) && g.Until.Equal(w.Until)
	}
	if !ok {
		t.Fatalf("session differs from what was stored:\n got %+v\nwant %+v", got, want)
	}
}

func sessCreateAndGet(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	s.Emergency = &auth.EmergencyGrant{AccessID: "acc-1", Role: "er", Reason: "cardiac arrest bay 3",
		StartedAt: base, Until: base.Add(time.Hour)}
	mustCreate(t, st, s)
	got, err := st.SessionByTokenHash(ctx, s.TokenHash)
	if err != nil {
		t.Fatalf("SessionByTokenHash: %v", err)
	}
	equal(t, got, s)
	got, err = st.SessionByID(ctx, s.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	equal(t, got, s)
}

func sessCreateDuplicate(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	mustCreate(t, st, s)
	sameID := Session("user-b")
	sameID.ID = s.ID
	if err := st.CreateSession(ctx, sameID); !errors.Is(err, auth.ErrSessionExists) {
		t.Fatalf("duplicate ID: got %v, want ErrSessionExists", err)
	}
	sameHash := Session("user-b")
	sameHash.TokenHash = s.TokenHash
	if err := st.CreateSession(ctx, sameHash); !errors.Is(err, auth.ErrSessionExists) {
		t.Fatalf("duplicate token hash: got %v, want ErrSessionExists", err)
	}
	got, err := st.SessionByTokenHash(ctx, s.TokenHash)
	if err != nil || got.UserID != "user-a" {
		t.Fatalf("original session changed by a refused create: %v %+v", err, got)
	}
}

func sessNotFound(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	if _, err := st.SessionByTokenHash(ctx, s.TokenHash); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("SessionByTokenHash: got %v, want ErrSessionNotFound", err)
	}
	if _, err := st.SessionByID(ctx, s.ID); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("SessionByID: got %v, want ErrSessionNotFound", err)
	}
	if err := st.UpdateSession(ctx, s.TokenHash, s); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("UpdateSession: got %v, want ErrSessionNotFound", err)
	}
	if err := st.DeleteSession(ctx, s.ID); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("DeleteSession: got %v, want ErrSessionNotFound", err)
	}
}

func sessUpdateRotates(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	mustCreate(t, st, s)
	u := s
	u.TokenHash = sha256.Sum256([]byte("rotated"))
	u.LastSeenAt = base.Add(5 * time.Minute)
	u.ExpiresAt = base.Add(20 * time.Minute)
	u.Emergency = &auth.EmergencyGrant{AccessID: "acc-2", Role: "er", Reason: "r", StartedAt: base, Until: base.Add(time.Hour)}
	if err := st.UpdateSession(ctx, s.TokenHash, u); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	if _, err := st.SessionByTokenHash(ctx, s.TokenHash); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("old token hash still finds the session after rotation: %v", err)
	}
	got, err := st.SessionByTokenHash(ctx, u.TokenHash)
	if err != nil {
		t.Fatalf("new token hash: %v", err)
	}
	equal(t, got, u)
	// Clearing the grant must be stored too.
	v := u
	v.Emergency = nil
	if err := st.UpdateSession(ctx, u.TokenHash, v); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	got, _ = st.SessionByID(ctx, s.ID)
	equal(t, got, v)
}

func sessUpdateCAS(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	mustCreate(t, st, s)
	rot := s
	rot.TokenHash = sha256.Sum256([]byte("rotated-cas"))
	if err := st.UpdateSession(ctx, s.TokenHash, rot); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	// A late update based on the old token must not undo the rotation.
	late := s
	late.LastSeenAt = base.Add(9 * time.Minute)
	if err := st.UpdateSession(ctx, s.TokenHash, late); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("stale update: got %v, want ErrSessionNotFound", err)
	}
	got, err := st.SessionByID(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got, rot)
}

func sessUpdateHashCollision(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	a, b := Session("user-a"), Session("user-b")
	mustCreate(t, st, a)
	mustCreate(t, st, b)
	u := b
	u.TokenHash = a.TokenHash
	if err := st.UpdateSession(ctx, b.TokenHash, u); !errors.Is(err, auth.ErrSessionExists) {
		t.Fatalf("rotating onto another session's hash: got %v, want ErrSessionExists", err)
	}
	got, _ := st.SessionByTokenHash(ctx, a.TokenHash)
	equal(t, got, a)
	got, _ = st.SessionByTokenHash(ctx, b.TokenHash)
	equal(t, got, b)
}

func sessDelete(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s, o := Session("user-a"), Session("user-a")
	mustCreate(t, st, s)
	mustCreate(t, st, o)
	if err := st.DeleteSession(ctx, s.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := st.SessionByTokenHash(ctx, s.TokenHash); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("deleted session still found by hash: %v", err)
	}
	if _, err := st.SessionByID(ctx, s.ID); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("deleted session still found by ID: %v", err)
	}
	if _, err := st.SessionByID(ctx, o.ID); err != nil {
		t.Fatalf("other session lost: %v", err)
	}
	if err := st.DeleteSession(ctx, s.ID); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("second delete: got %v, want ErrSessionNotFound", err)
	}
}

func sessDeleteUser(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	a1, a2, a3, b := Session("user-a"), Session("user-a"), Session("user-a"), Session("user-b")
	for _, s := range []auth.Session{a1, a2, a3, b} {
		mustCreate(t, st, s)
	}
	gone, err := st.DeleteUserSessions(ctx, "user-a", a2.ID)
	if err != nil {
		t.Fatalf("DeleteUserSessions: %v", err)
	}
	if len(gone) != 2 {
		t.Fatalf("removed %d sessions, want 2", len(gone))
	}
	for _, s := range gone {
		if s.ID == a2.ID || s.UserID != "user-a" {
			t.Fatalf("removed the wrong session %s of %s", s.ID, s.UserID)
		}
	}
	for _, s := range []auth.Session{a1, a3} {
		if _, err := st.SessionByTokenHash(ctx, s.TokenHash); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Fatalf("session survived DeleteUserSessions: %v", err)
		}
	}
	if _, err := st.SessionByTokenHash(ctx, a2.TokenHash); err != nil {
		t.Fatalf("kept session lost: %v", err)
	}
	if _, err := st.SessionByTokenHash(ctx, b.TokenHash); err != nil {
		t.Fatalf("other user's session lost: %v", err)
	}
	gone, err = st.DeleteUserSessions(ctx, "user-a", "")
	if err != nil || len(gone) != 1 || gone[0].ID != a2.ID {
		t.Fatalf("DeleteUserSessions without exception: %v, %d removed", err, len(gone))
	}
	gone, err = st.DeleteUserSessions(ctx, "nobody", "")
	if err != nil || len(gone) != 0 {
		t.Fatalf("DeleteUserSessions of a user without sessions: %v, %d", err, len(gone))
	}
}

func sessListUser(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	older, newer := Session("user-a"), Session("user-a")
	newer.CreatedAt = base.Add(time.Hour)
	mustCreate(t, st, newer)
	mustCreate(t, st, older)
	mustCreate(t, st, Session("user-b"))
	got, err := st.ListUserSessions(ctx, "user-a")
	if err != nil {
		t.Fatalf("ListUserSessions: %v", err)
	}
	if len(got) != 2 || got[0].ID != older.ID || got[1].ID != newer.ID {
		t.Fatalf("ListUserSessions: want the 2 sessions of user-a oldest first, got %d", len(got))
	}
	if got, _ := st.ListUserSessions(ctx, "nobody"); len(got) != 0 {
		t.Fatalf("ListUserSessions of a user without sessions returned %d", len(got))
	}
}

func sessExpired(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	var ss []auth.Session
	for i := range 5 {
		s := Session("user-a")
		s.ExpiresAt = base.Add(time.Duration(5-i) * time.Minute) // 5,4,3,2,1 minutes
		ss = append(ss, s)
		mustCreate(t, st, s)
	}
	got, err := st.ExpiredSessions(ctx, base.Add(3*time.Minute), 0)
	if err != nil {
		t.Fatalf("ExpiredSessions: %v", err)
	}
	if len(got) != 3 || got[0].ID != ss[4].ID || got[1].ID != ss[3].ID || got[2].ID != ss[2].ID {
		t.Fatalf("ExpiredSessions: want the 3 sessions expiring by minute 3 (inclusive), earliest first; got %d", len(got))
	}
	got, err = st.ExpiredSessions(ctx, base.Add(time.Hour), 2)
	if err != nil || len(got) != 2 || got[0].ID != ss[4].ID {
		t.Fatalf("ExpiredSessions with limit 2: %v, %d", err, len(got))
	}
	got, _ = st.ExpiredSessions(ctx, base, 0)
	if len(got) != 0 {
		t.Fatalf("ExpiredSessions before any expiry returned %d", len(got))
	}
}

func sessCopies(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	s.Emergency = &auth.EmergencyGrant{AccessID: "a", Role: "er", Reason: "r", StartedAt: base, Until: base.Add(time.Hour)}
	mustCreate(t, st, s)
	s.Emergency.Role = "mutated-after-create"
	got, _ := st.SessionByID(ctx, s.ID)
	if got.Emergency == nil || got.Emergency.Role != "er" {
		t.Fatal("store shares the caller's EmergencyGrant")
	}
	got.Emergency.Role = "mutated-after-get"
	again, _ := st.SessionByID(ctx, s.ID)
	if again.Emergency.Role != "er" {
		t.Fatal("store hands out its own EmergencyGrant")
	}
}

func sessConcurrentRotation(t *testing.T, st auth.SessionStore) {
	ctx := context.Background()
	s := Session("user-a")
	mustCreate(t, st, s)
	const n = 8
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := s
			u.TokenHash = sha256.Sum256([]byte(fmt.Sprintf("concurrent-%s-%d", s.ID, i)))
			err := st.UpdateSession(ctx, s.TokenHash, u)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, auth.ErrSessionNotFound):
				t.Errorf("UpdateSession: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of %d concurrent rotations from the same token won, want exactly 1", wins.Load(), n)
	}
}
