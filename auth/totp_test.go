package auth

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/auth/totp"
)

// RFC 6238 Appendix B, SHA1 rows: seed "12345678901234567890", 8 digits,
// 30-second steps.
var rfc6238 = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

func TestTOTPRFC6238Vectors(t *testing.T) {
	opts := pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1}
	for _, v := range rfc6238 {
		at := time.Unix(v.unix, 0).UTC()
		got, err := pqtotp.GenerateCodeCustom(rfcSecret, at, opts)
		require.NoError(t, err)
		require.Equal(t, v.code, got, "otp library at %d", v.unix)
		ok, err := pqtotp.ValidateCustom(v.code, rfcSecret, at, opts)
		require.NoError(t, err)
		require.True(t, ok)

		// Our matcher finds the same step, with and without skew.
		step, err := sha1Eight.Match(rfcSecret, v.code, 0, at)
		require.NoError(t, err)
		require.Equal(t, v.unix/30, step)
		step, err = sha1Eight.Match(rfcSecret, v.code, 1, at.Add(30*time.Second))
		require.NoError(t, err)
		require.Equal(t, v.unix/30, step, "previous step accepted with skew 1")
		step, err = sha1Eight.Match(rfcSecret, v.code, 0, at.Add(30*time.Second))
		require.NoError(t, err)
		require.Equal(t, int64(-1), step, "skew 0 accepts the current step only")
		step, _ = sha1Eight.Match(rfcSecret, v.code, 1, at.Add(61*time.Second))
		require.Equal(t, int64(-1), step, "two steps away is refused")
	}
}

func TestParseTOTPCode(t *testing.T) {
	for in, want := range map[string]string{"123456": "123456", "123 456": "123456", " 12 34 56 ": "123456"} {
		got, ok := totp.ParseCode(in, 6)
		require.True(t, ok, in)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", "١٢٣٤٥٦", "123-456", "123456\n", strings.Repeat(" ", 40) + "123456"} {
		_, ok := totp.ParseCode(bad, 6)
		require.False(t, ok, "%q", bad)
	}
	got, ok := totp.ParseCode("1234 5678", 8)
	require.True(t, ok)
	require.Equal(t, "12345678", got)
}

// enrol returns a user with active TOTP, its secret and recovery codes.
func (f *fixture) enrol(t testing.TB, name string) (*User, string, []string) {
	t.Helper()
	ctx := t.Context()
	u := f.create(t, name)
	e, err := f.a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	require.NoError(t, err)
	codes, err := f.a.ConfirmTOTP(ctx, u.ID, f.code(t, e.Secret(), 0), "", audit.Origin{})
	require.NoError(t, err)
	f.clk.Advance(30 * time.Second) // the confirmation code's step is used
	return u, e.Secret(), codes
}

// code returns the code for the fake clock's step plus offset steps.
func (f *fixture) code(t testing.TB, secret string, offset int) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, f.clk.Now().Add(time.Duration(offset)*30*time.Second), pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix})
	require.NoError(t, err)
	return c
}

func TestTOTPEnrolment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u := f.create(t, "kim")
	e, err := f.a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(e.URI(), "otpauth://totp/hipaakit:kim?"), e.URI())
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(raw)*8, 160)
	img, err := png.Decode(bytes.NewReader(e.QRCodePNG()))
	require.NoError(t, err)
	require.Equal(t, 256, img.Bounds().Dx())

	stored, _ := f.users.Get(ctx, u.ID)
	require.False(t, stored.MFA.TOTPActive, "not active before a first valid code")
	require.NotContains(t, string(stored.MFA.TOTPSecret), e.Secret(), "stored sealed")
	res, err := f.login(t, "kim", goodPassword)
	require.NoError(t, err)
	require.True(t, res.Authenticated, "pending enrolment does not demand a code")

	_, err = f.a.ConfirmTOTP(ctx, u.ID, "000000", "", audit.Origin{})
	require.ErrorIs(t, err, errInvalidCode)
	require.Equal(t, audit.ActionMFAFailed, f.log.last().Action)
	codes, err := f.a.ConfirmTOTP(ctx, u.ID, f.code(t, e.Secret(), 0), "sess-1", audit.Origin{})
	require.NoError(t, err)
	require.Len(t, codes, recoveryCodeCount)
	require.Equal(t, 1, f.log.count(audit.ActionMFAEnrolled, "totp_activated"))
	require.Equal(t, []string{u.ID}, f.rev.users, "MFA change ends other sessions")
	_, err = f.a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	require.ErrorIs(t, err, errMFAAlreadyActive)

	// Logging in now needs the second factor.
	f.clk.Advance(30 * time.Second)
	res, err = f.login(t, "kim", goodPassword)
	require.NoError(t, err)
	require.False(t, res.Authenticated)
	require.True(t, res.SecondFactorRequired)
	res, err = f.a.VerifySecondFactor(ctx, SecondFactorRequest{Challenge: res.Challenge, TOTPCode: f.code(t, e.Secret(), 0)})
	require.NoError(t, err)
	require.True(t, res.Authenticated)
	require.True(t, res.MFA)

	// Disabling removes the secret.
	require.NoError(t, f.a.DisableTOTP(ctx, u.ID, "", audit.Actor{UserID: u.ID}, audit.Origin{}))
	stored, _ = f.users.Get(ctx, u.ID)
	require.Equal(t, MFA{}, stored.MFA)
}

func TestTOTPEnrolRequiresSealer(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Sealer = nil })
	u := f.create(t, "lee")
	_, err := f.a.EnrollTOTP(t.Context(), u.ID, audit.Origin{})
	require.ErrorIs(t, err, errNoSealer)
}

func TestTOTPEachCodeOnce(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	_, secret, _ := f.enrol(t, "max")
	code := f.code(t, secret, 0)
	res, err := f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: "max", Password: goodPassword, TOTPCode: code})
	require.NoError(t, err)
	require.True(t, res.MFA)
	_, err = f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: "max", Password: goodPassword, TOTPCode: code})
	require.ErrorIs(t, err, ErrInvalidCredentials, "replay refused")
	require.Equal(t, "invalid_totp_code", f.log.last().Reason)
	// An older step within the skew is refused too once a later one was used.
	_, err = f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: "max", Password: goodPassword, TOTPCode: f.code(t, secret, -1)})
	require.ErrorIs(t, err, ErrInvalidCredentials)
	_, err = f.a.Login(ctx, LoginRequest{TenantID: "clinic", Name: "max", Password: goodPassword, TOTPCode: f.code(t, secret, 1)})
	require.NoError(t, err, "the next step within the skew is fine")
}

// Two concurrent submissions of one code: exactly one gets through.
func TestTOTPConcurrentReplay(t *testing.T) {
	f := newFixture(t)
	u, secret, _ := f.enrol(t, "nia")
	for round := range 5 {
		f.clk.Advance(30 * time.Second)
		code := f.code(t, secret, 0)
		var ok atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				cur, err := f.users.Get(context.Background(), u.ID)
				if err != nil {
					t.Error(err)
					return
				}
				good, err := f.a.useTOTP(context.Background(), cur, code, nil, nil)
				if err != nil {
					t.Error(err)
				}
				if good {
					ok.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), ok.Load(), "round %d", round)
	}
}

func TestRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u, _, codes := f.enrol(t, "omar")
	seen := map[string]bool{}
	for _, c := range codes {
		require.Len(t, c, 29) // 24 characters in six groups of four
		canon, ok := parseRecoveryCode(c)
		require.True(t, ok)
		require.False(t, seen[canon])
		seen[canon] = true
	}
	stored, _ := f.users.Get(ctx, u.ID)
	for _, h := range stored.MFA.RecoveryCodes {
		require.True(t, strings.HasPrefix(h, "rc1$"))
		for _, c := range codes {
			require.NotContains(t, h, c)
		}
	}
	login := func(code string) (*LoginResult, error) {
		res, err := f.login(t, "omar", goodPassword)
		require.NoError(t, err)
		return f.a.VerifySecondFactor(ctx, SecondFactorRequest{Challenge: res.Challenge, RecoveryCode: code})
	}
	res, err := login(strings.ToUpper(codes[3]))
	require.NoError(t, err)
	require.True(t, res.UsedRecoveryCode)
	require.Len(t, res.User.MFA.RecoveryCodes, recoveryCodeCount-1)
	_, err = login(codes[3])
	require.ErrorIs(t, err, ErrInvalidCredentials, "single use")
	require.Equal(t, "invalid_recovery_code", f.log.last().Reason)

	// Concurrent use of one code: exactly one succeeds.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			cur, _ := f.users.Get(context.Background(), u.ID)
			if good, err := f.a.useRecoveryCode(context.Background(), cur, codes[5], nil, nil); err == nil && good {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), ok.Load())

	fresh, err := f.a.RegenerateRecoveryCodes(ctx, u.ID, audit.Actor{UserID: u.ID}, audit.Origin{})
	require.NoError(t, err)
	require.Len(t, fresh, recoveryCodeCount)
	_, err = login(codes[0])
	require.ErrorIs(t, err, ErrInvalidCredentials, "old codes are gone")
}

func TestRecoveryNotAllowedByTenant(t *testing.T) {
	tenants, err := policy.NewTenants(policy.Tenant{RecoveryMethods: []policy.RecoveryMethod{policy.RecoveryAdminReset}})
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) { c.Tenants = tenants })
	_, _, codes := f.enrol(t, "pia")
	require.Empty(t, codes, "no codes issued when the policy does not allow them")
	res, err := f.login(t, "pia", goodPassword)
	require.NoError(t, err)
	_, err = f.a.VerifySecondFactor(t.Context(), SecondFactorRequest{Challenge: res.Challenge, RecoveryCode: "abcd-efgh-jkmn-pqrs-tvwx-yz01"})
	require.ErrorIs(t, err, ErrInvalidCredentials)
	require.Equal(t, "recovery_not_allowed", f.log.last().Reason)
	_, err = f.a.RegenerateRecoveryCodes(t.Context(), res.User.ID, audit.Actor{}, audit.Origin{})
	require.ErrorIs(t, err, errRecoveryNotAllowed)
}

func TestParseRecoveryCode(t *testing.T) {
	c, ok := parseRecoveryCode("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01")
	require.True(t, ok)
	require.Equal(t, "abcdefghjkmnpqrstvwxyz01", c)
	c, ok = parseRecoveryCode("iloo efgh jkmn pqrs tvwx yz01")
	require.True(t, ok)
	require.Equal(t, "1100efghjkmnpqrstvwxyz01", c)
	for _, bad := range []string{"", "abcd", "abcd-efgh-jkmn-pqrs-tvwx-yz01-0", "abcd-efgh-jkmn-pqrs-tvwx-yzu1", strings.Repeat("-", 100)} {
		_, ok := parseRecoveryCode(bad)
		require.False(t, ok, bad)
	}
}

func FuzzParseRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn-pqrs-tvwx-yz01", "ABCD EFGH JKMN PQRS TVWX YZ01", "", "iiii-llll-oooo-0000-1111-2222", "u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseRecoveryCode(s)
		if !ok {
			return
		}
		if len(c) != recoveryCodeChars || strings.Trim(c, crockford) != "" {
			t.Fatal("accepted a non-code")
		}
		if again, ok := parseRecoveryCode(c); !ok || again != c {
			t.Fatal("canonical form does not parse to itself")
		}
	})
}

func TestChallenge(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u, secret, _ := f.enrol(t, "quinn")
	res, err := f.login(t, "quinn", goodPassword)
	require.NoError(t, err)
	ch := res.Challenge
	_, err = f.a.parseChallenge(ch, f.clk.Now())
	require.NoError(t, err)

	tampered := []byte(ch)
	tampered[len(challengePrefix)+3] ^= 1
	for _, bad := range []string{"", "mc1.", "mc1..", ch + "x", string(tampered), strings.Replace(ch, "mc2.", "mc1.", 1)} {
		_, err := f.a.parseChallenge(bad, f.clk.Now())
		require.Error(t, err, "%q", bad)
	}
	// Another Authenticator (another key) does not accept it.
	other := newFixture(t)
	_, err = other.a.parseChallenge(ch, f.clk.Now())
	require.Error(t, err)
	// Expired.
	_, err = f.a.parseChallenge(ch, f.clk.Now().Add(challengeTTL))
	require.Error(t, err)
	_, err = f.a.VerifySecondFactor(ctx, SecondFactorRequest{Challenge: "mc1.garbage.garbage", TOTPCode: f.code(t, secret, 0)})
	require.ErrorIs(t, err, ErrInvalidCredentials)
	require.Equal(t, "invalid_challenge", f.log.last().Reason)

	// A challenge completes at most one login.
	res, err = f.login(t, "quinn", goodPassword)
	require.NoError(t, err)
	_, err = f.a.VerifySecondFactor(ctx, SecondFactorRequest{Challenge: res.Challenge, TOTPCode: f.code(t, secret, 0)})
	require.NoError(t, err)
	_, err = f.a.VerifySecondFactor(ctx, SecondFactorRequest{Challenge: res.Challenge, TOTPCode: f.code(t, secret, 1)})
	require.ErrorIs(t, err, ErrInvalidCredentials, "a used challenge is refused, even with a fresh code")
	f.clk.Advance(time.Minute)
	res, err = f.login(t, "quinn", goodPassword)
	require.NoError(t, err)
	ch = res.Challenge

	// A password change voids outstanding challenges.
	require.NoError(t, f.a.SetPassword(ctx, u.ID, "new-admin-set-pass-99", audit.Actor{}, audit.Origin{}))
	_, err = f.a.VerifySecondFactor(ctx, SecondFactorRequest{Challenge: ch, TOTPCode: f.code(t, secret, 0)})
	require.ErrorIs(t, err, ErrInvalidCredentials)
}

// Two concurrent second steps on one challenge with two different valid
// codes: exactly one completes a login.
func TestChallengeConcurrentUse(t *testing.T) {
	f := newFixture(t)
	_, secret, _ := f.enrol(t, "rhea")
	for round := range 4 {
		f.clk.Advance(2 * time.Minute)
		res, err := f.login(t, "rhea", goodPassword)
		require.NoError(t, err)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 2 {
			code := f.code(t, secret, i) // the current and the next step
			wg.Go(func() {
				r, err := f.a.VerifySecondFactor(context.Background(), SecondFactorRequest{Challenge: res.Challenge, TOTPCode: code})
				if err == nil && r.Authenticated {
					ok.Add(1)
				} else if !errors.Is(err, ErrInvalidCredentials) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), ok.Load(), "round %d", round)
	}
}

func FuzzParseChallenge(f *testing.F) {
	fx := newFixture(f)
	u := &User{ID: NewUserID(), PasswordChangedAt: testEpoch}
	ch, err := fx.a.newChallenge(u, testEpoch)
	require.NoError(f, err)
	f.Add(ch)
	f.Add("mc1.AAAA.AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := fx.a.parseChallenge(s, testEpoch)
		if err == nil && (s != ch || c.userID != u.ID) {
			t.Fatal("accepted a challenge this Authenticator did not sign")
		}
	})
}

// TOTP secrets, codes and passwords never reach errors, logs or fmt output.
func TestCredentialCanaries(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	var logs bytes.Buffer
	f.a.log = slog.New(slog.NewJSONHandler(&logs, nil))
	const pwCanary = "CANARY-pass-phrase-31337"
	u := f.create(t, "rita")
	e, err := f.a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	require.NoError(t, err)
	secret := e.Secret()
	var out strings.Builder
	addErr := func(err error) {
		if err != nil {
			out.WriteString(err.Error() + "\n")
		}
	}
	_, err = f.a.ConfirmTOTP(ctx, u.ID, "999999", "", audit.Origin{})
	addErr(err)
	codes, err := f.a.ConfirmTOTP(ctx, u.ID, f.code(t, secret, 0), "", audit.Origin{})
	require.NoError(t, err)
	req := LoginRequest{TenantID: "clinic", Name: "rita", Password: pwCanary, TOTPCode: "123456", RecoveryCode: codes[0]}
	_, err = f.a.Login(ctx, req)
	addErr(err)
	addErr(f.a.ChangePassword(ctx, ChangePasswordRequest{UserID: u.ID, CurrentPassword: goodPassword, NewPassword: pwCanary + "\x00"}))
	_, err = f.a.CreateUser(ctx, NewUser{TenantID: "clinic", Name: "x", Password: "password"}, audit.Actor{}, audit.Origin{})
	addErr(err)
	stored, _ := f.users.Get(ctx, u.ID)
	sfr := SecondFactorRequest{Challenge: "c", TOTPCode: "654321", RecoveryCode: codes[1]}
	cpr := ChangePasswordRequest{UserID: u.ID, CurrentPassword: pwCanary, NewPassword: pwCanary}
	nu := NewUser{Name: "n", Password: pwCanary}
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "req", req, "sfr", sfr, "e", e, "u", stored, "nu", nu, "cpr", cpr)
	fmt.Fprintf(&out, "%v %+v %#v %v %#v %v %+v %#v %v %#v %v %#v", req, req, req, sfr, sfr, e, *e, e, stored, stored, nu, cpr)
	for _, v := range []any{req, e, *e, stored} {
		js, _ := jsonMarshalForTest(v)
		out.Write(js)
	}
	events := fmt.Sprintf("%+v", f.log.events)
	all := out.String() + logs.String() + events
	for _, canary := range append([]string{pwCanary, secret, "654321", "123456"}, codes...) {
		require.NotContains(t, all, canary)
	}
	canon, _ := parseRecoveryCode(codes[0])
	require.NotContains(t, all, canon)
}

// BenchmarkTOTPVerify is the TOTP check of a login (parse, open the sealed
// secret, match ±1 step, compare-and-swap of the last step in the memory
// store); BenchmarkTOTPValidateBaseline is otp's pqtotp.ValidateCustom with
// the same options and skew on a plaintext secret.
func BenchmarkTOTPVerify(b *testing.B) {
	f := newFixture(b)
	u, secret, _ := f.enrol(b, "bench")
	ctx := context.Background()
	cur, err := f.users.Get(ctx, u.ID)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		f.clk.Advance(30 * time.Second)
		code := f.code(b, secret, 0)
		ok, err := f.a.useTOTP(ctx, cur, code, nil, nil)
		if err != nil || !ok {
			b.Fatal("not accepted", err)
		}
	}
}

func BenchmarkTOTPValidateBaseline(b *testing.B) {
	f := newFixture(b)
	_, secret, _ := f.enrol(b, "bench")
	opts := pqtotp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	b.ReportAllocs()
	for b.Loop() {
		f.clk.Advance(30 * time.Second)
		code := f.code(b, secret, 0)
		if ok, _ := pqtotp.ValidateCustom(code, secret, f.clk.Now(), opts); !ok {
			b.Fatal("not accepted")
		}
	}
}

func TestAdminResetMFA(t *testing.T) {
	deny := newFixture(t)
	u, _, _ := deny.enrol(t, "uma")
	require.ErrorIs(t, deny.a.AdminResetMFA(t.Context(), u.ID, audit.Actor{UserID: "admin"}, audit.Origin{}), errRecoveryNotAllowed)
	require.Equal(t, "admin_reset_not_allowed", deny.log.last().Reason)
	stored, _ := deny.users.Get(t.Context(), u.ID)
	require.True(t, stored.MFA.TOTPActive)

	tenants, err := policy.NewTenants(policy.Tenant{RecoveryMethods: []policy.RecoveryMethod{policy.RecoveryCodes, policy.RecoveryAdminReset}})
	require.NoError(t, err)
	allow := newFixture(t, func(c *Config) { c.Tenants = tenants })
	v, _, _ := allow.enrol(t, "vic")
	before := allow.rev.n()
	require.NoError(t, allow.a.AdminResetMFA(t.Context(), v.ID, audit.Actor{UserID: "admin"}, audit.Origin{}))
	stored, _ = allow.users.Get(t.Context(), v.ID)
	require.Equal(t, MFA{}, stored.MFA)
	require.Equal(t, before+1, allow.rev.n(), "sessions end")
	require.Equal(t, "admin_reset", allow.log.last().Reason)
	require.Equal(t, "admin", allow.log.last().Actor.UserID)
}

func TestTOTPNoSkew(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.TOTP = totp.Config{NoSkew: true} })
	require.Equal(t, 0, f.a.cfg.TOTP.Skew)
	_, secret, _ := f.enrol(t, "wes")
	_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "wes", Password: goodPassword, TOTPCode: f.code(t, secret, 1)})
	require.ErrorIs(t, err, ErrInvalidCredentials, "next step refused without skew")
	_, err = f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "wes", Password: goodPassword, TOTPCode: f.code(t, secret, 0)})
	require.NoError(t, err)
}
