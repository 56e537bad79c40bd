package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func reason(t *testing.T, err error) PasswordReason {
	t.Helper()
	var pe *PasswordError
	if err == nil {
		return ""
	}
	require.ErrorIs(t, err, ErrWeakPassword)
	require.True(t, errors.As(err, &pe), "%v", err)
	return pe.Reason
}

func TestPasswordPolicyCheck(t *testing.T) {
	p := DefaultPasswordPolicy()
	p.AppName = "Acme Clinic"
	pc := PasswordContext{UserName: "jdoe@example.org", TenantID: "northwind"}
	mfa := pc
	mfa.MFA = true
	cases := []struct {
		pw   string
		pc   PasswordContext
		want PasswordReason
	}{
		{"correct horse battery", pc, ""},
		{"glacier-violet-47", pc, ""},
		{"short-pass-14c", pc, ReasonTooShort},    // 14 code points without MFA
		{"short-pass-14c", mfa, ""},               // fine with MFA
		{"sev7n!x", mfa, ReasonTooShort},          // 7 < 8
		{"ééééééé-ünïcødé", pc, ""},               // 15 code points, 22+ bytes
		{"日本語のパスワードはとても長い", pc, ""},               // 15 code points, 45 bytes
		{"日本語のパスワード", mfa, ""},                    // 9 code points count, not bytes
		{strings.Repeat("ab1", 21) + "c", pc, ""}, // 64 accepted
		{strings.Repeat("xy7", 43), pc, ReasonTooLong},
		{strings.Repeat("z", 5000), pc, ReasonTooLong},
		{"passwordpassword", pc, ReasonBlocklisted},
		{"QwertyuiopASDFGH", pc, ReasonBlocklisted},
		{"1q2w3e4r5t6y7u8i", pc, ReasonBlocklisted},
		{"iloveyou", mfa, ReasonBlocklisted},
		{"aaaaaaaaaaaaaaaa", pc, ReasonRepetitive},
		{"abcdefghijklmnop", pc, ReasonRepetitive},
		{"9876543210987654", pc, ""},                 // not a single run
		{"abcabcabcabcabcabc", pc, ReasonRepetitive}, // repeated unit
		{"my name is jdoe, ok!", pc, ReasonContext},  // local part of the login name
		{"JDOE@EXAMPLE.ORG rocks", pc, ReasonContext},
		{"northwind staff 2024", pc, ReasonContext},
		{"acme clinic password!", pc, ReasonContext},
		{"zz-sunrise-river-42", PasswordContext{Words: []string{"Sunrise"}}, ReasonContext},
		{"tab\there is control", pc, ReasonInvalid},
		{"bad utf8 \xff\xfe here!!", pc, ReasonInvalid},
	}
	for _, c := range cases {
		err := p.Check(c.pw, c.pc)
		require.Equal(t, c.want, reason(t, err), "password %q: %v", c.pw, err)
		if err != nil {
			require.NotContains(t, err.Error(), c.pw)
		}
	}
	// A short context word only refuses the password when it is the whole
	// alphabetic core.
	short := PasswordContext{TenantID: "ab", MFA: true}
	require.NoError(t, p.Check("table-lamp-cabinet", short))
	require.Equal(t, ReasonContext, reason(t, p.Check("ab-12345-9!*", short)))
}

func TestPasswordPolicyNoTruncation(t *testing.T) {
	p := DefaultPasswordPolicy()
	ctx := t.Context()
	h := testHasher(t)
	long := strings.Repeat("long-unique-phrase-", 6) // 114 code points
	require.NoError(t, p.Check(long, PasswordContext{}))
	enc, err := h.Hash(ctx, long)
	require.NoError(t, err)
	ok, _, err := h.Verify(ctx, long[:len(long)-1], enc)
	require.NoError(t, err)
	require.False(t, ok, "a prefix must not verify")
	ok, _, err = h.Verify(ctx, long, enc)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestPasswordPolicyValidate(t *testing.T) {
	require.NoError(t, DefaultPasswordPolicy().Validate())
	bad := []func(*PasswordPolicy){
		func(p *PasswordPolicy) { p.MinLength = 7 },
		func(p *PasswordPolicy) { p.MinLengthWithMFA = 6 },
		func(p *PasswordPolicy) { p.MaxLength = 63 },
		func(p *PasswordPolicy) { p.MaxLength = 5000 },
		func(p *PasswordPolicy) { p.MinLength = 100; p.MaxLength = 64 },
		func(p *PasswordPolicy) { p.Blocklist = nil },
		func(p *PasswordPolicy) { p.MaxAge = -time.Hour },
	}
	for i, mut := range bad {
		p := DefaultPasswordPolicy()
		mut(&p)
		require.Error(t, p.Validate(), i)
		require.Error(t, p.Check("whatever long passphrase", PasswordContext{}), i)
	}
}

func TestPasswordExpired(t *testing.T) {
	p := DefaultPasswordPolicy()
	set := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	require.False(t, p.expired(set, set.AddDate(10, 0, 0)), "off by default")
	p.MaxAge = 90 * 24 * time.Hour
	require.False(t, p.expired(set, set.Add(89*24*time.Hour)))
	require.True(t, p.expired(set, set.Add(90*24*time.Hour)))
	require.False(t, p.expired(time.Time{}, set))
}
