package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// passkeyTenants returns tenant policies with clinic-a set to tp.
func passkeyTenants(t testing.TB, tp policy.Tenant) func(*auth.Config) {
	t.Helper()
	tp.TenantID = "clinic-a"
	tenants, err := policy.NewTenants(policy.Tenant{}, tp)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := auth.NewKeySealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *auth.Config) { c.Tenants, c.Sealer = tenants, sealer }
}

func passwordLogin(t *testing.T, e *svcEnv, name string) *auth.LoginResult {
	t.Helper()
	res, err := e.svc.Login(context.Background(), auth.LoginRequest{TenantID: "clinic-a", Name: name, Password: testPassword, ClientKey: "192.0.2.7"})
	if err != nil {
		t.Fatalf("password step: %v", err)
	}
	return res
}

// A tenant that accepts a passkey as the second factor asks a user with a
// passkey (and no TOTP) for it after the password; the assertion completes
// the login with MFA and a passkey session; its challenge serves once and
// only for that user; a tenant that does not accept it never asks.
func TestPasskeySecondFactor(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t, withPasskeys, passkeyTenants(t, policy.Tenant{RequireMFA: true, PasskeySecondFactor: true}))
	id := passkeyUser(t, e, "pk-dora")
	a := newSoftAuthenticator(t, testRPID, testOrigin)
	register(t, e, id, a)

	res := passwordLogin(t, e, "pk-dora")
	if !res.SecondFactorRequired || res.Authenticated || !slices.Equal(res.SecondFactors, []string{"passkey"}) {
		t.Fatalf("password step: %+v", res)
	}
	opts, err := e.svc.BeginPasskeyLogin(ctx, res.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			AllowCredentials []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil || len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != b64.EncodeToString(a.CredentialID) {
		t.Fatalf("second-factor options do not list the user's passkey: %s", opts)
	}
	assertion := a.Assert(opts)
	done, err := e.svc.VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: res.Challenge, Passkey: assertion, ClientKey: "192.0.2.7"})
	if err != nil || !done.Authenticated || !done.MFA || !done.Passkey || done.MFAEnrollmentRequired {
		t.Fatalf("passkey second factor: %+v %v", done, err)
	}
	s, _, err := e.svc.BeginPasskeySession(ctx, httptest.NewRecorder(), nil, done)
	if err != nil || !s.MFA || !s.Passkey {
		t.Fatalf("session: %+v %v", s, err)
	}
	if ev := e.rec.find(audit.ActionLogin, "passkey"); len(ev) != 1 || ev[0].Attrs["factor"] != "passkey" || ev[0].Attrs["mfa"] != "true" {
		t.Fatalf("login audit: %+v", ev)
	}
	// The same assertion again: its passkey challenge was used.
	_, err = e.svc.VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: res.Challenge, Passkey: assertion})
	wantPasskeyReason(t, err, "unknown_challenge", true)

	// Another user's password step cannot borrow this user's passkey
	// ceremony, and a forged password-step challenge gets no options.
	other := passkeyUser(t, e, "pk-emil")
	register(t, e, other, newSoftAuthenticator(t, testRPID, testOrigin))
	res2 := passwordLogin(t, e, "pk-emil")
	opts, _ = e.svc.BeginPasskeyLogin(ctx, passwordLogin(t, e, "pk-dora").Challenge)
	_, err = e.svc.VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: res2.Challenge, Passkey: a.Assert(opts)})
	wantPasskeyReason(t, err, "unknown_challenge", true)
	if _, err := e.svc.BeginPasskeyLogin(ctx, res2.Challenge+"x"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("forged challenge: %v", err)
	}

	// Without PasskeySecondFactor the passkey is no second factor: the
	// password alone signs in (and MFA enrolment is due).
	plain := newSvcEnv(t, withPasskeys, passkeyTenants(t, policy.Tenant{RequireMFA: true}))
	pid := passkeyUser(t, plain, "pk-finn")
	register(t, plain, pid, newSoftAuthenticator(t, testRPID, testOrigin))
	r := passwordLogin(t, plain, "pk-finn")
	if r.SecondFactorRequired || r.Challenge != "" || !r.Authenticated || r.MFA || !r.MFAEnrollmentRequired {
		t.Fatalf("tenant without passkey second factor: %+v", r)
	}
}

// Passkey logins share the password's limits: failures count against the
// account and the client key, back off, and a success resets the count.
func TestPasskeyLoginThrottled(t *testing.T) {
	ctx := context.Background()
	e := newSvcEnv(t, withPasskeys)
	id := passkeyUser(t, e, "pk-gus")
	a := newSoftAuthenticator(t, testRPID, testOrigin)
	register(t, e, id, a)
	bad := func() error {
		opts, err := e.svc.BeginPasskeyLogin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		a.Origin = "https://evil.example"
		defer func() { a.Origin = testOrigin }()
		_, err = e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "198.51.100.9", audit.Origin{})
		return err
	}
	// One password failure and two passkey failures: the free failures (3)
	// are used up by the third.
	if _, err := e.svc.Login(ctx, auth.LoginRequest{TenantID: "clinic-a", Name: "pk-gus", Password: "wrong password, quite long"}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	for i := range 2 {
		if err := bad(); !errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	u, _ := e.users.Get(ctx, id)
	if u.Lockout.Failures != 3 {
		t.Fatalf("account failures %d, want 3 (password and passkey count together)", u.Lockout.Failures)
	}
	opts, _ := e.svc.BeginPasskeyLogin(ctx, "")
	_, err := e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "198.51.100.9", audit.Origin{})
	var te *auth.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("fourth attempt: %v, want a *ThrottledError", err)
	}
	if len(e.rec.find(audit.ActionLoginFailed, "throttled")) != 1 {
		t.Fatal("throttled passkey attempt not audited")
	}
	e.clk.Advance(te.RetryAfter)
	opts, _ = e.svc.BeginPasskeyLogin(ctx, "")
	if _, err := e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "198.51.100.9", audit.Origin{}); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}
	if u, _ := e.users.Get(ctx, id); u.Lockout.Failures != 0 {
		t.Fatalf("failures after success: %d", u.Lockout.Failures)
	}
	if n := len(e.rec.find(audit.ActionLoginFailed, "passkey_verification_failed")); n != 2 {
		t.Fatalf("%d refusals audited, want 2", n)
	}
}

// The tenant's user-verification setting is enforced by the server: a
// response without the user-verified flag is refused where it is required
// (even when the deployment allows unverified authenticators) and accepted
// where it is preferred, as one factor (no MFA).
func TestPasskeyUserVerificationPerTenant(t *testing.T) {
	ctx := context.Background()
	loose := func(c *auth.Config) { withPasskeys(c); c.Passkeys.AllowUnverified = true }
	for _, tc := range []struct {
		name   string
		cfg    func(*auth.Config)
		uv     policy.UserVerification
		accept bool
	}{
		{"TenantRequires", loose, policy.UserVerificationRequired, false},
		{"TenantPrefers", withPasskeys, policy.UserVerificationPreferred, true},
		{"DeploymentDefault", withPasskeys, "", false},
		{"DeploymentAllows", loose, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSvcEnv(t, tc.cfg, passkeyTenants(t, policy.Tenant{PasskeyUserVerification: tc.uv}))
			id := passkeyUser(t, e, "pk-hal")
			a := newSoftAuthenticator(t, testRPID, testOrigin)
			a.UV = false
			opts, err := e.svc.BeginPasskeyRegistration(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.FinishPasskeyRegistration(ctx, id, "key", a.Register(opts), audit.Origin{})
			if !tc.accept {
				wantPasskeyReason(t, err, "user_verification_required", false)
				a.UV = true
				register(t, e, id, a)
				a.UV = false
				opts, _ = e.svc.BeginPasskeyLogin(ctx, "")
				_, err = e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "", audit.Origin{})
				wantPasskeyReason(t, err, "user_verification_required", true)
				return
			}
			if err != nil {
				t.Fatalf("registration without user verification: %v", err)
			}
			opts, _ = e.svc.BeginPasskeyLogin(ctx, "")
			res, err := e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "", audit.Origin{})
			if err != nil || res.MFA || !res.Passkey {
				t.Fatalf("login without user verification: %+v %v", res, err)
			}
		})
	}
}
