package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewUserID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewUserID()
		require.Len(t, id, 26)
		require.True(t, ValidUserID(id), id)
		require.False(t, seen[id])
		seen[id] = true
	}
	for _, bad := range []string{"", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abc", strings.Repeat("a", 27), strings.Repeat("1", 26)} {
		require.False(t, ValidUserID(bad), bad)
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"  Alice@Example.ORG ": "alice@example.org",
		"ＤＲ.ＨＯＵＳＥ":             "dr.house", // full-width forms fold by NFKC
		"Straße":               "strasse",
	} {
		got, err := CanonicalName(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"", "   ", "a\x00b", "bad\nname", string([]byte{0xff}), strings.Repeat("x", 257), strings.Repeat("y", 1<<20)} {
		_, err := CanonicalName(bad)
		require.ErrorIs(t, err, ErrInvalidUser)
	}
}

func validUser() *User {
	return &User{ID: NewUserID(), TenantID: "clinic-1", Name: "alice", Status: StatusActive,
		Roles: []string{"nurse", "physician"}, CreatedAt: time.Unix(1700000000, 0).UTC()}
}

func TestUserValidate(t *testing.T) {
	require.NoError(t, validUser().Validate())
	cases := map[string]func(u *User){
		"id":        func(u *User) { u.ID = "nope" },
		"tenant":    func(u *User) { u.TenantID = "has space" },
		"name":      func(u *User) { u.Name = "Alice" },
		"status":    func(u *User) { u.Status = "gone" },
		"roles":     func(u *User) { u.Roles = []string{"b", "a"} },
		"dup roles": func(u *User) { u.Roles = []string{"a", "a"} },
		"hash":      func(u *User) { u.PasswordHash = "$2y$10$abc" },
		"totp":      func(u *User) { u.MFA.TOTPActive = true },
	}
	for name, mut := range cases {
		u := validUser()
		mut(u)
		require.ErrorIs(t, u.Validate(), ErrInvalidUser, name)
	}
	var nilUser *User
	require.ErrorIs(t, nilUser.Validate(), ErrInvalidUser)
}

func TestUserRedaction(t *testing.T) {
	const canary = "CANARY-SECRET-7731"
	u := validUser()
	u.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$" + canary + "$" + canary
	u.MFA.TOTPSecret = []byte(canary)
	u.MFA.RecoveryCodes = []string{canary}
	u.MFA.TOTPActive = true
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("user", "u", u, "up", *u, "mfa", u.MFA)
	js, err := json.Marshal(u)
	require.NoError(t, err)
	out := fmt.Sprintf("%v %+v %#v %s %v %#v", u, *u, u, u, u.MFA, u.MFA) + logs.String() + string(js)
	require.NotContains(t, out, canary)
	require.Contains(t, out, u.ID)
	require.Contains(t, string(js), `"mfa":true`)
}

func TestUserClone(t *testing.T) {
	u := validUser()
	u.MFA.TOTPSecret = []byte{1, 2}
	u.MFA.RecoveryCodes = []string{"x"}
	c := u.Clone()
	c.Roles[0] = "zzz"
	c.MFA.TOTPSecret[0] = 9
	c.MFA.RecoveryCodes[0] = "y"
	require.Equal(t, "nurse", u.Roles[0])
	require.Equal(t, byte(1), u.MFA.TOTPSecret[0])
	require.Equal(t, "x", u.MFA.RecoveryCodes[0])
	require.True(t, slices.Contains(u.Roles, "physician"))
	require.False(t, slices.Contains(u.Roles, "admin"))
	require.Nil(t, (*User)(nil).Clone())
}
