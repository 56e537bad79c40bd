package auth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/durable"
)

func TestMemorySessionStoreConformance(t *testing.T) {
	authtest.RunSessionStore(t, func(t *testing.T) auth.SessionStore { return auth.NewMemorySessionStore() })
}

func openFileStore(t *testing.T, dir string) *auth.FileSessionStore {
	t.Helper()
	st, err := auth.OpenFileSessionStore(dir)
	if err != nil {
		t.Fatalf("OpenFileSessionStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestFileSessionStoreConformance(t *testing.T) {
	authtest.RunSessionStore(t, func(t *testing.T) auth.SessionStore { return openFileStore(t, t.TempDir()) })
}

// The conformance suite again, on a store reopened after every session was
// written: what the files hold must be exactly what was stored.
func TestFileSessionStoreReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := auth.OpenFileSessionStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := authtest.Session("user-a")
	a.Emergency = &auth.EmergencyGrant{AccessID: "acc", Role: "er", Reason: "code blue", StartedAt: a.CreatedAt, Until: a.CreatedAt.Add(30 * 60e9)}
	b := authtest.Session("user-b")
	c := authtest.Session("user-c")
	for _, s := range []auth.Session{a, b, c} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteSession(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	rot := b
	rot.TokenHash[0] ^= 0xff
	if err := st.UpdateSession(ctx, b.TokenHash, rot); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.OpenFileSessionStore(dir); !errors.Is(err, durable.ErrLocked) {
		t.Fatalf("second open of a locked directory: got %v, want durable.ErrLocked", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openFileStore(t, dir)
	got, err := st2.SessionByTokenHash(ctx, a.TokenHash)
	if err != nil || got.Emergency == nil || got.Emergency.Reason != "code blue" || !got.LastSeenAt.Equal(a.LastSeenAt) {
		t.Fatalf("session a after reopen: %v %+v", err, got)
	}
	if _, err := st2.SessionByTokenHash(ctx, b.TokenHash); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("rotated-away hash found after reopen: %v", err)
	}
	if _, err := st2.SessionByTokenHash(ctx, rot.TokenHash); err != nil {
		t.Fatalf("rotated hash lost after reopen: %v", err)
	}
	if _, err := st2.SessionByID(ctx, c.ID); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("deleted session back after reopen: %v", err)
	}
}

func TestFileSessionStoreRefusesCorruptFile(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        "{{{",
		"unknown version": `{"v":2,"id":"x"}`,
		"unknown field":   `{"v":1,"id":"x","token":"hks1_secret"}`,
		"bad hash":        `{"v":1,"id":"x","token_sha256":"zz","user_id":"u","idle_timeout_ms":1,"absolute_timeout_ms":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "78.json"), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := auth.OpenFileSessionStore(dir)
			if !errors.Is(err, auth.ErrCorruptSessionFile) {
				t.Fatalf("got %v, want ErrCorruptSessionFile", err)
			}
			// The lock must have been released.
			st := openFileStoreAfterFix(t, dir)
			_ = st
		})
	}
}

func openFileStoreAfterFix(t *testing.T, dir string) *auth.FileSessionStore {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, "78.json")); err != nil {
		t.Fatal(err)
	}
	return openFileStore(t, dir)
}

// Sessions in the file store survive a restart of the process: a new
// manager over the reopened directory accepts the old cookie, and still
// enforces the idle timeout from the persisted activity time.
func TestFileSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t)
	st, err := auth.OpenFileSessionStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	sm := auth.NewSessionManager(st, e.users, e.rec)
	sm.Clock = e.clk
	u := e.addUser("ana")
	_, tok, err := sm.Begin(context.Background(), nil, nil, u, true)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Minute)
	if rr := do(sm.Middleware(whoami), "GET", "/", tok); rr.Code != 200 {
		t.Fatalf("before restart: %d", rr.Code)
	}
	st.Close()

	st2 := openFileStore(t, dir)
	sm2 := auth.NewSessionManager(st2, e.users, e.rec)
	sm2.Clock = e.clk
	e.clk.Advance(14 * time.Minute)
	if rr := do(sm2.Middleware(whoami), "GET", "/", tok); rr.Code != 200 {
		t.Fatalf("after restart: %d", rr.Code)
	}
	e.clk.Advance(15 * time.Minute)
	if rr := do(sm2.Middleware(whoami), "GET", "/", tok); rr.Code != 401 {
		t.Fatalf("idle timeout after restart: %d", rr.Code)
	}
	if _, err := os.Stat(filepath.Join(dir, ".lock")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if filepath.Ext(en.Name()) == ".json" {
			t.Fatalf("expired session file %s left behind", en.Name())
		}
	}
}

// A write a crash interrupted leaves a temporary file; opening the store
// removes it and does not read it as a session.
func TestFileSessionStoreRemovesCrashTemporaries(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".0123.json.tmp-42")
	if err := os.WriteFile(tmp, []byte(`{"v":1,"half`), 0o600); err != nil {
		t.Fatal(err)
	}
	openFileStore(t, dir)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file survived the open: %v", err)
	}
}

func TestClockStepsMemory(t *testing.T) {
	authtest.RunClockSteps(t, func(*testing.T) auth.SessionStore { return auth.NewMemorySessionStore() })
}

func TestClockStepsFile(t *testing.T) {
	authtest.RunClockSteps(t, func(t *testing.T) auth.SessionStore { return openFileStore(t, t.TempDir()) })
}

func TestSessionCapMemory(t *testing.T) {
	authtest.RunSessionCap(t, func(*testing.T) auth.SessionStore { return auth.NewMemorySessionStore() })
}

func TestSessionCapFile(t *testing.T) {
	authtest.RunSessionCap(t, func(t *testing.T) auth.SessionStore { return openFileStore(t, t.TempDir()) })
}
