package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A login with a recovery code consumes the code and resets the failure
// counter in one compare-and-swap, as a TOTP login does with its step: the
// same number of writes, and no failures left.
func TestRecoveryLoginResetsFailuresInOneWrite(t *testing.T) {
	var cu *countingUsers
	f := newFixture(t, func(c *Config) { cu = &countingUsers{UserStore: c.Users}; c.Users = cu })
	ctx := t.Context()
	secondFactor := func(name string, req func(secret string, codes []string) SecondFactorRequest) int {
		t.Helper()
		u, secret, codes := f.enrol(t, name)
		_, err := f.login(t, name, "not-the-password-at-all")
		require.ErrorIs(t, err, ErrInvalidCredentials)
		f.clk.Advance(time.Hour) // past the back-off
		res, err := f.login(t, name, goodPassword)
		require.NoError(t, err)
		require.True(t, res.SecondFactorRequired)
		stored, err := f.users.Get(ctx, u.ID)
		require.NoError(t, err)
		require.Positive(t, stored.Lockout.Failures, "test setup: a failure is counted")
		r := req(secret, codes)
		r.Challenge = res.Challenge
		before := cu.writes()
		done, err := f.a.VerifySecondFactor(ctx, r)
		require.NoError(t, err)
		require.True(t, done.Authenticated)
		writes := cu.writes() - before
		stored, err = f.users.Get(ctx, u.ID)
		require.NoError(t, err)
		require.Zero(t, stored.Lockout.Failures)
		return writes
	}
	totpWrites := secondFactor("tara", func(secret string, _ []string) SecondFactorRequest {
		return SecondFactorRequest{TOTPCode: f.code(t, secret, 0)}
	})
	recoveryWrites := secondFactor("rosa", func(_ string, codes []string) SecondFactorRequest {
		return SecondFactorRequest{RecoveryCode: codes[0]}
	})
	require.Equal(t, totpWrites, recoveryWrites, "a recovery-code login writes the user once more than a TOTP login")
}

// writes returns the number of updates so far.
func (c *countingUsers) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updates
}
