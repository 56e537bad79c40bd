package auth

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/stretchr/testify/require"
)

// goldenLines returns the non-comment lines of a testdata file.
func goldenLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestRecoveryCodeHashGoldenV1(t *testing.T) {
	l := goldenLines(t, "recovery_code_v1.txt")
	require.Len(t, l, 3)
	canon, ok := parseRecoveryCode(l[1]) // typed in upper case, with an I for a 1
	require.True(t, ok)
	require.Equal(t, l[2], hashRecoveryCode(l[0], canon))
}

func TestChallengeGoldenV2(t *testing.T) {
	l := goldenLines(t, "challenge_v2.txt")
	require.Len(t, l, 7)
	key, err := hex.DecodeString(l[0])
	require.NoError(t, err)
	sec, err := strconv.ParseInt(l[2], 10, 64)
	require.NoError(t, err)
	changed, err := time.Parse(time.RFC3339Nano, l[3])
	require.NoError(t, err)
	a, err := NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, ChallengeKey: key, hasher: testHasher(t)}, nil)
	require.NoError(t, err)
	step, err := strconv.ParseInt(l[4], 10, 64)
	require.NoError(t, err)
	codes, err := strconv.Atoi(l[5])
	require.NoError(t, err)
	u := &User{ID: l[1], PasswordChangedAt: changed, MFA: MFA{TOTPLastStep: step, RecoveryCodes: make([]string, codes)}}
	now := time.Unix(sec, 0)
	got, err := a.newChallenge(u, now)
	require.NoError(t, err)
	require.Equal(t, l[6], got)
	c, err := a.parseChallenge(l[6], now.Add(challengeTTL-time.Second))
	require.NoError(t, err)
	require.Equal(t, l[1], c.userID)
	require.True(t, c.pwChanged.Equal(changed))
	require.True(t, c.unused(u))
	u.MFA.TOTPLastStep++
	require.False(t, c.unused(u))
}

func TestPasskeyChallengeGoldenV1(t *testing.T) {
	l := goldenLines(t, "passkey_challenge_v1.txt")
	require.Len(t, l, 6)
	key, err := hex.DecodeString(l[0])
	require.NoError(t, err)
	kind, err := strconv.Atoi(l[1])
	require.NoError(t, err)
	sec, err := strconv.ParseInt(l[3], 10, 64)
	require.NoError(t, err)
	n, err := hex.DecodeString(l[4])
	require.NoError(t, err)
	var nonce [16]byte
	copy(nonce[:], n)
	a, err := NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: audit.Discard{}, ChallengeKey: key, hasher: testHasher(t)}, nil)
	require.NoError(t, err)
	expires := time.Unix(sec, 0)
	got := a.passkeyChallenge(ceremonyKind(kind), l[2], expires, nonce)
	require.Equal(t, l[5], base64.RawURLEncoding.EncodeToString(got))

	raw, reason := a.checkPasskeyChallenge(l[5], ceremonySecondFactor, l[2], expires.Add(-time.Second))
	require.Empty(t, reason)
	require.Equal(t, got, raw)
	for _, bad := range []struct {
		kind          ceremonyKind
		user          string
		now           time.Time
		reason, claim string
	}{
		{ceremonyLogin, l[2], expires.Add(-time.Second), "unknown_challenge", l[5]},            // another ceremony
		{ceremonySecondFactor, "", expires.Add(-time.Second), "unknown_challenge", l[5]},       // another user
		{ceremonySecondFactor, l[2], expires, "expired", l[5]},                                 // at its expiry
		{ceremonySecondFactor, l[2], expires.Add(-time.Second), "unknown_challenge", l[5][1:]}, // truncated
	} {
		_, reason := a.checkPasskeyChallenge(bad.claim, bad.kind, bad.user, bad.now)
		require.Equal(t, bad.reason, reason)
	}
}
