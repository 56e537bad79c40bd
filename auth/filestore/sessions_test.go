package filestore

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
)

var updateSessionGolden = flag.Bool("update-sessions", false, "rewrite the session golden files under testdata")

// goldenSession is the session stored in testdata/session_v1.json.
func goldenSession() auth.Session {
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := auth.Session{
		ID: "00112233445566778899aabbccddeeff", UserID: "mfrgg2lte2dktnjxha4dmnzyhe", TenantID: "clinic-a",
		CreatedAt: base, LastSeenAt: base.Add(5 * time.Minute), AuthenticatedAt: base,
		IdleTimeout: 15 * time.Minute, AbsoluteTimeout: 12 * time.Hour, ExpiresAt: base.Add(20 * time.Minute), MFA: true,
		Emergency: &auth.EmergencyGrant{AccessID: "8f0c1e2d3b4a59687766554433221100", Role: "er_override",
			Reason: "patient unconscious, chart locked", StartedAt: base.Add(time.Minute), Until: base.Add(31 * time.Minute)},
	}
	s.TokenHash = auth.TokenHash(sha256.Sum256([]byte("hks1_" + strings.Repeat("A", 43)))) // how auth hashes a token
	return s
}

func TestSessionFileGolden(t *testing.T) {
	path := filepath.Join("testdata", "session_v1.json")
	enc, err := encodeSessionFile(goldenSession())
	if err != nil {
		t.Fatal(err)
	}
	if *updateSessionGolden {
		if err := os.WriteFile(path, enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, golden) {
		t.Fatalf("session file v1 encoding changed:\n got %s\nwant %s", enc, golden)
	}
	s, err := decodeSessionFile(golden)
	if err != nil {
		t.Fatalf("golden v1 session file: %v", err)
	}
	want := goldenSession()
	if s.ID != want.ID || s.TokenHash != want.TokenHash || !s.ExpiresAt.Equal(want.ExpiresAt) || s.IdleTimeout != want.IdleTimeout ||
		s.Emergency == nil || s.Emergency.Reason != want.Emergency.Reason || !s.Emergency.Until.Equal(want.Emergency.Until) {
		t.Fatalf("golden decoded to %+v", s)
	}
	// The file holds the hash, never the token.
	if bytes.Contains(golden, []byte("hks1_")) {
		t.Fatal("session file holds a token")
	}
	// The store opens a directory holding the golden file under its name.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "3030313132323333343435353636373738383939616162626363646465656666.json"), golden, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSessionStore(dir)
	if err != nil {
		t.Fatalf("open store with golden file: %v", err)
	}
	defer st.Close()
	if _, err := st.SessionByTokenHash(t.Context(), want.TokenHash); err != nil {
		t.Fatal(err)
	}
}

// A passkey session (the Passkey flag, read by the policy step for
// policy.Tenant.PasskeyRoles) keeps its own golden file; the v1 file
// without the member decodes to a session without it.
func TestSessionFileGoldenPasskey(t *testing.T) {
	path := filepath.Join("testdata", "session_v1_passkey.json")
	want := goldenSession()
	want.Emergency, want.Passkey = nil, true
	enc, err := encodeSessionFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if *updateSessionGolden {
		if err := os.WriteFile(path, enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, golden) {
		t.Fatalf("passkey session file encoding changed:\n got %s\nwant %s", enc, golden)
	}
	s, err := decodeSessionFile(golden)
	if err != nil || !s.Passkey || !s.MFA || s.ID != want.ID {
		t.Fatalf("golden passkey session decoded to %+v, %v", s, err)
	}
	old, err := os.ReadFile(filepath.Join("testdata", "session_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := decodeSessionFile(old); err != nil || s.Passkey {
		t.Fatalf("v1 session without the member: passkey %v, %v", s.Passkey, err)
	}
}

func FuzzSessionFile(f *testing.F) {
	golden, err := encodeSessionFile(goldenSession())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSessionFile(b)
		if err != nil {
			return
		}
		enc, err := encodeSessionFile(s)
		if err != nil {
			t.Fatalf("decoded session does not encode: %v", err)
		}
		again, err := decodeSessionFile(enc)
		if err != nil || again.ID != s.ID || again.TokenHash != s.TokenHash || !again.ExpiresAt.Equal(s.ExpiresAt) ||
			again.IdleTimeout != s.IdleTimeout || (again.Emergency == nil) != (s.Emergency == nil) {
			t.Fatalf("round trip changed the session: %v", err)
		}
	})
}

func FuzzEmergencyLine(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"a","user_id":"u","session_id":"s","role":"er","reason":"r","started_at":"2026-01-01T00:00:00Z","until":"2026-01-01T01:00:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"a"}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeEmergencyLine(b)
		if err == nil && (a.ID == "" || a.UserID == "") {
			t.Fatal("accepted an incomplete record")
		}
	})
}
