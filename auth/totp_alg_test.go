package auth

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
)

var sha1Eight, _ = totp.NewParams(totp.SHA1, 8, 30)

func b32(s string) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(s))
}

// RFC 6238 Appendix B, all rows: the seeds are 20, 32 and 64 bytes.
var rfc6238All = []struct {
	alg  totp.Algorithm
	seed string
	unix int64
	code string
}{
	{totp.SHA1, "12345678901234567890", 59, "94287082"},
	{totp.SHA256, "12345678901234567890123456789012", 59, "46119246"},
	{totp.SHA512, "1234567890123456789012345678901234567890123456789012345678901234", 59, "90693936"},
	{totp.SHA1, "12345678901234567890", 1111111109, "07081804"},
	{totp.SHA256, "12345678901234567890123456789012", 1111111109, "68084774"},
	{totp.SHA512, "1234567890123456789012345678901234567890123456789012345678901234", 1111111109, "25091201"},
	{totp.SHA1, "12345678901234567890", 1111111111, "14050471"},
	{totp.SHA256, "12345678901234567890123456789012", 1111111111, "67062674"},
	{totp.SHA512, "1234567890123456789012345678901234567890123456789012345678901234", 1111111111, "99943326"},
	{totp.SHA1, "12345678901234567890", 1234567890, "89005924"},
	{totp.SHA256, "12345678901234567890123456789012", 1234567890, "91819424"},
	{totp.SHA512, "1234567890123456789012345678901234567890123456789012345678901234", 1234567890, "93441116"},
	{totp.SHA1, "12345678901234567890", 2000000000, "69279037"},
	{totp.SHA256, "12345678901234567890123456789012", 2000000000, "90698825"},
	{totp.SHA512, "1234567890123456789012345678901234567890123456789012345678901234", 2000000000, "38618901"},
	{totp.SHA1, "12345678901234567890", 20000000000, "65353130"},
	{totp.SHA256, "12345678901234567890123456789012", 20000000000, "77737706"},
	{totp.SHA512, "1234567890123456789012345678901234567890123456789012345678901234", 20000000000, "47863826"},
}

// RFC 4226 Appendix D: HOTP values for counters 0..9 of the 20-byte seed.
var rfc4226 = []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}

func TestTOTPAllAlgorithmsRFC6238(t *testing.T) {
	for _, v := range rfc6238All {
		p, err := totp.NewParams(v.alg, 8, 30)
		require.NoError(t, err)
		at := time.Unix(v.unix, 0).UTC()
		step, err := p.Match(b32(v.seed), v.code, 0, at)
		require.NoError(t, err)
		require.Equal(t, v.unix/30, step, "%s at %d", v.alg, v.unix)
		// Another algorithm's code for the same seed and time is refused.
		for _, o := range []totp.Algorithm{totp.SHA1, totp.SHA256, totp.SHA512} {
			if o == v.alg {
				continue
			}
			q, _ := totp.NewParams(o, 8, 30)
			step, err := q.Match(b32(v.seed), v.code, 1, at)
			require.NoError(t, err)
			require.Equal(t, int64(-1), step, "%s code accepted as %s", v.alg, o)
		}
	}
}

func TestTOTPRFC4226AppendixD(t *testing.T) {
	p, err := totp.NewParams(totp.SHA1, 6, 30)
	require.NoError(t, err)
	for c, code := range rfc4226 {
		// A TOTP step is the HOTP counter: step c spans [30c, 30c+30).
		step, err := p.Match(b32("12345678901234567890"), code, 0, time.Unix(int64(30*c+17), 0))
		require.NoError(t, err)
		require.Equal(t, int64(c), step, "counter %d", c)
	}
}

// TestTOTPImportLoginAllAlgorithms imports each RFC 6238 seed and signs in
// with its Appendix B code: the whole validation path (unseal, stored
// parameters, step, replay) accepts all three algorithms.
func TestTOTPImportLoginAllAlgorithms(t *testing.T) {
	for i, v := range rfc6238All[3:6] { // t = 1111111109
		t.Run(string(v.alg), func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			u := f.create(t, fmt.Sprintf("imp%d", i))
			// Lower case with spaces, as apps show it.
			sec := strings.ToLower(b32(v.seed))
			sec = sec[:8] + " " + sec[8:]
			codes, err := f.a.ImportTOTP(ctx, u.ID, totp.Import{Secret: sec, Algorithm: v.alg, Digits: 8, Period: 30 * time.Second},
				audit.Actor{UserID: "admin"}, audit.Origin{})
			require.NoError(t, err)
			require.NotEmpty(t, codes)
			require.Equal(t, 1, f.log.count(audit.ActionMFAEnrolled, "totp_imported"))
			stored, err := f.users.Get(ctx, u.ID)
			require.NoError(t, err)
			require.True(t, stored.MFA.TOTPActive)
			require.Equal(t, string(v.alg), stored.MFA.TOTPAlgorithm)
			f.clk.Set(time.Unix(v.unix, 0))
			res, err := f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: u.Name, Password: goodPassword, TOTPCode: v.code})
			require.NoError(t, err)
			require.True(t, res.Authenticated)
			require.True(t, res.MFA)
			_, err = f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: u.Name, Password: goodPassword, TOTPCode: v.code})
			require.ErrorIs(t, err, ErrInvalidCredentials, "replay refused")
		})
	}
}

func TestTOTPImportRefusesWeakAndBadSecrets(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.create(t, "weak")
	for name, c := range map[string]struct {
		imp  totp.Import
		want error
	}{
		"80 bits":     {totp.Import{Secret: b32("1234567890")}, errWeakTOTPSecret},
		"120 bits":    {totp.Import{Secret: b32("123456789012345")}, errWeakTOTPSecret},
		"not base32":  {totp.Import{Secret: "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"}, errInvalidTOTPParams},
		"algorithm":   {totp.Import{Secret: b32("12345678901234567890"), Algorithm: "MD5"}, errInvalidTOTPParams},
		"digits":      {totp.Import{Secret: b32("12345678901234567890"), Digits: 7}, errInvalidTOTPParams},
		"period":      {totp.Import{Secret: b32("12345678901234567890"), Period: 1500 * time.Millisecond}, errInvalidTOTPParams},
		"huge secret": {totp.Import{Secret: strings.Repeat("A", 1000)}, errInvalidTOTPParams},
	} {
		_, err := f.a.ImportTOTP(ctx, u.ID, c.imp, audit.Actor{UserID: "admin"}, audit.Origin{})
		require.ErrorIs(t, err, c.want, name)
		require.NotContains(t, err.Error(), c.imp.Secret, name)
	}
	// 128 bits is the minimum accepted.
	_, err := f.a.ImportTOTP(ctx, u.ID, totp.Import{Secret: b32("1234567890123456")}, audit.Actor{UserID: "admin"}, audit.Origin{})
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", totp.Import{Secret: "SECRETCANARY"}, totp.Import{Secret: "SECRETCANARY"},
		totp.Import{Secret: "SECRETCANARY"}, totp.Import{Secret: "SECRETCANARY"}), "SECRETCANARY")
}

// TestStoredWeakTOTPSecretRefused: an enrolment written by another path
// (here straight into the store) with an 80-bit secret never signs in.
func TestStoredWeakTOTPSecretRefused(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.create(t, "legacy")
	weak := b32("1234567890") // 80 bits
	sealed, err := f.a.cfg.Sealer.Seal(ctx, u.ID, []byte(weak))
	require.NoError(t, err)
	_, err = f.a.modify(ctx, u.ID, func(u *User) error {
		u.MFA = MFA{TOTPSecret: sealed, TOTPActive: true, TOTPDigits: 6, TOTPPeriod: 30, TOTPAlgorithm: "SHA1"}
		return nil
	})
	require.NoError(t, err)
	code, err := pqtotp.GenerateCodeCustom(weak, f.clk.Now(), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix})
	require.NoError(t, err)
	res, err := f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: u.Name, Password: goodPassword, TOTPCode: code})
	require.Error(t, err)
	require.True(t, errors.Is(err, errWeakTOTPSecret) || errors.Is(err, ErrInvalidCredentials), "%v", err)
	require.Nil(t, res)
}

func TestEnrolSHA256(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.TOTP.Algorithm = totp.SHA256 })
	ctx := t.Context()
	u := f.create(t, "sha256")
	e, err := f.a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	require.NoError(t, err)
	require.Contains(t, e.URI(), "algorithm=SHA256")
	code, err := pqtotp.GenerateCodeCustom(e.Secret(), f.clk.Now(), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA256})
	require.NoError(t, err)
	_, err = f.a.ConfirmTOTP(ctx, u.ID, code, "", audit.Origin{})
	require.NoError(t, err)
	_, err = NewAuthenticator(Config{Users: f.users, Audit: f.log, TOTP: totp.Config{Algorithm: "MD5"}}, nil)
	require.Error(t, err)
}

func TestRequireMFAWithoutSealerRefused(t *testing.T) {
	pol, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic", RequireMFA: true})
	require.NoError(t, err)
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: &auditLog{}, Tenants: pol}, nil)
	require.ErrorIs(t, err, ErrMFAWithoutSealer)
	require.Contains(t, err.Error(), "Config.Sealer")
	relaxed, err := policy.NewTenants(policy.Tenant{}, policy.Tenant{TenantID: "clinic"})
	require.NoError(t, err)
	_, err = NewAuthenticator(Config{Users: NewMemoryUserStore(), Audit: &auditLog{}, Tenants: relaxed}, nil)
	require.NoError(t, err)
}
