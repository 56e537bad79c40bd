package filestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/stretchr/testify/require"
)

func TestFileUserStoreConformance(t *testing.T) {
	authtest.RunUserStore(t, func(t *testing.T) auth.UserStore {
		st, err := filestore.OpenUserStore(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestFileUserStorePersists(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := filestore.OpenUserStore(dir)
	require.NoError(t, err)
	u := authtest.NewUser("t1", "alice")
	u.MFA.RecoveryCodes = []string{"rc1$abc"}
	require.NoError(t, st.Create(ctx, u))
	u.Status = auth.StatusDisabled
	require.NoError(t, st.Update(ctx, u))
	removed := authtest.NewUser("t1", "bob")
	require.NoError(t, st.Create(ctx, removed))
	removed.Status = auth.StatusRemoved
	require.NoError(t, st.Update(ctx, removed))

	_, err = filestore.OpenUserStore(dir)
	require.ErrorIs(t, err, durable.ErrLocked, "one process per directory")
	require.NoError(t, st.Close())

	// A temporary file left by a crash mid-write is cleaned up.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "."+u.ID+".json.tmp-123"), []byte("{half"), 0o600))
	st2, err := filestore.OpenUserStore(dir)
	require.NoError(t, err)
	defer st2.Close()
	got, err := st2.Get(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, auth.StatusDisabled, got.Status)
	require.Equal(t, int64(2), got.Version)
	require.Equal(t, []string{"rc1$abc"}, got.MFA.RecoveryCodes)
	_, err = st2.GetByName(ctx, "t1", "bob")
	require.ErrorIs(t, err, auth.ErrUserNotFound)
	_, err = os.Stat(filepath.Join(dir, "."+u.ID+".json.tmp-123"))
	require.True(t, os.IsNotExist(err))
	info, err := os.Stat(filepath.Join(dir, u.ID+".json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestFileUserStoreRefusesCorruptFiles(t *testing.T) {
	ctx := t.Context()
	for name, content := range map[string]string{
		"garbage":   "not json",
		"version":   `{"v":2}`,
		"invalid":   `{"v":1,"id":"x","tenant_id":"t","name":"n","status":"active","version":1}`,
		"unknown":   `{"v":1,"surprise":true}`,
		"misplaced": "",
	} {
		dir := t.TempDir()
		st, err := filestore.OpenUserStore(dir)
		require.NoError(t, err)
		u := authtest.NewUser("t1", "carol")
		require.NoError(t, st.Create(ctx, u))
		require.NoError(t, st.Close())
		path := filepath.Join(dir, u.ID+".json")
		if name == "misplaced" {
			require.NoError(t, os.Rename(path, filepath.Join(dir, auth.NewUserID()+".json")))
		} else {
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		}
		_, err = filestore.OpenUserStore(dir)
		require.ErrorIs(t, err, filestore.ErrCorrupt, name)
		if len(content) > 3 {
			require.NotContains(t, err.Error(), content[3:], name)
		}
	}
}

// The v1 golden file must keep decoding to the same user.
func TestUserFileGoldenV1(t *testing.T) {
	b, err := os.ReadFile("testdata/user_v1.json")
	require.NoError(t, err)
	u, err := filestore.DecodeUser(b)
	require.NoError(t, err)
	require.Equal(t, "k5mqhc2wztobhwjzjnd6v3bq2i", u.ID)
	require.Equal(t, "clinic-7", u.TenantID)
	require.Equal(t, "dr.ada@example.org", u.Name)
	require.Equal(t, auth.StatusActive, u.Status)
	require.Equal(t, []string{"physician"}, u.Roles)
	require.True(t, u.MFA.TOTPActive)
	require.Equal(t, int64(59000000), u.MFA.TOTPLastStep)
	require.Equal(t, []byte("sealed-bytes"), u.MFA.TOTPSecret)
	require.Len(t, u.MFA.RecoveryCodes, 2)
	require.Equal(t, 2, u.Lockout.Failures)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), u.PasswordChangedAt)
	require.Equal(t, int64(9), u.Version)
	again, err := filestore.EncodeUser(u)
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(b)), strings.TrimSpace(string(again)))
}

func FuzzDecodeUserFile(f *testing.F) {
	if b, err := os.ReadFile("testdata/user_v1.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := filestore.DecodeUser(b)
		if err != nil {
			if !errors.Is(err, filestore.ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if u.Validate() != nil {
			t.Fatal("decoded an invalid user")
		}
		enc, err := filestore.EncodeUser(u)
		if err != nil {
			t.Fatal(err)
		}
		u2, err := filestore.DecodeUser(enc)
		if err != nil {
			t.Fatalf("re-encoded user does not decode: %v", err)
		}
		if enc2, _ := filestore.EncodeUser(u2); string(enc2) != string(enc) {
			t.Fatal("encoding is not stable")
		}
	})
}

func TestTOTPRaceFile(t *testing.T) {
	authtest.RunTOTPRace(t, func(t *testing.T) auth.UserStore {
		st, err := filestore.OpenUserStore(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestFileAttemptStoreConformance(t *testing.T) {
	authtest.RunAttemptStore(t, func(t *testing.T) auth.AttemptStore {
		st, err := filestore.OpenAttemptStore(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	})
}
