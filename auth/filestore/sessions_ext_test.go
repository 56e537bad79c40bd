package filestore_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/clock"

	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/durable"
)

func openFileStore(t *testing.T, dir string) *filestore.SessionStore {
	t.Helper()
	st, err := filestore.OpenSessionStore(dir)
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
	st, err := filestore.OpenSessionStore(dir)
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
	if _, err := filestore.OpenSessionStore(dir); !errors.Is(err, durable.ErrLocked) {
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
			_, err := filestore.OpenSessionStore(dir)
			if !errors.Is(err, filestore.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			// The lock must have been released.
			st := openFileStoreAfterFix(t, dir)
			_ = st
		})
	}
}

func openFileStoreAfterFix(t *testing.T, dir string) *filestore.SessionStore {
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
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	users := memstore.NewUserStore()
	u := authtest.NewUser("clinic-a", "ana")
	if err := users.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	open := func(st auth.SessionStore) *auth.Service {
		t.Helper()
		svc, err := auth.New(auth.Config{Users: users, Sessions: st, Emergencies: memstore.NewEmergencyLog(), Audit: audit.Discard{}, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	get := func(svc *auth.Service, tok string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
		rr := httptest.NewRecorder()
		svc.Session(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rr, r)
		return rr.Code
	}
	st, err := filestore.OpenSessionStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc := open(st)
	_, tok, err := svc.Begin(context.Background(), nil, nil, u, true)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	if code := get(svc, tok); code != 200 {
		t.Fatalf("before restart: %d", code)
	}
	st.Close()

	svc2 := open(openFileStore(t, dir))
	clk.Advance(14 * time.Minute)
	if code := get(svc2, tok); code != 200 {
		t.Fatalf("after restart: %d", code)
	}
	clk.Advance(15 * time.Minute)
	if code := get(svc2, tok); code != 401 {
		t.Fatalf("idle timeout after restart: %d", code)
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

func TestClockStepsFile(t *testing.T) {
	authtest.RunClockSteps(t, func(t *testing.T) auth.SessionStore { return openFileStore(t, t.TempDir()) })
}

func TestSessionCapFile(t *testing.T) {
	authtest.RunSessionCap(t, func(t *testing.T) auth.SessionStore { return openFileStore(t, t.TempDir()) })
}
