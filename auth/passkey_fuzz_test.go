package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// FuzzPasskeyResponse feeds arbitrary bytes to the three finish
// ceremonies (registration, passwordless login, passkey as the second
// factor): every refusal is a *passkey.Error (the login ones also
// ErrInvalidCredentials), never a panic, and nothing is accepted without a
// challenge of ours.
func FuzzPasskeyResponse(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AQID","rawId":"AQID","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{"id":"AQID","rawId":"AQID","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AA"}}`))
	f.Add([]byte(`{"id":"AQID","rawId":"AQID","type":"public-key","response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFBQSIsIm9yaWdpbiI6Imh0dHBzOi8vY2xpbmljLmV4YW1wbGUifQ","attestationObject":"o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVgl"}}`))
	cfg := auth.Config{Users: auth.NewMemoryUserStore(), Sessions: auth.NewMemorySessionStore(),
		Emergencies: auth.NewMemoryEmergencyLog(), Audit: audit.Discard{}, Argon2: fastArgon2,
		Lockout: auth.LockoutConfig{FreeFailures: 1 << 30}} // no back-off: every input reaches the parser
	withPasskeys(&cfg)
	passkeyTenants(f, policy.Tenant{PasskeySecondFactor: true})(&cfg)
	svc, err := auth.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, auth.NewUser{TenantID: "clinic-a", Name: "fuzz-user", Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		f.Fatal(err)
	}
	register(f, &svcEnv{svc: svc}, u.ID, newSoftAuthenticator(f, testRPID, testOrigin))
	res, err := svc.Login(ctx, auth.LoginRequest{TenantID: "clinic-a", Name: "fuzz-user", Password: testPassword})
	if err != nil || !res.SecondFactorRequired {
		f.Fatalf("password step: %+v %v", res, err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, err := svc.VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: res.Challenge, Passkey: in})
		if len(in) > 0 && (!errors.Is(err, passkey.ErrRefused) || !errors.Is(err, auth.ErrInvalidCredentials)) {
			t.Fatalf("second factor: %v", err)
		}
		if _, err := svc.FinishPasskeyLogin(ctx, in, "", audit.Origin{}); !errors.Is(err, passkey.ErrRefused) {
			t.Fatalf("login: %v", err)
		}
		if _, err := svc.FinishPasskeyRegistration(ctx, u.ID, "k", in, audit.Origin{}); !errors.Is(err, passkey.ErrRefused) {
			t.Fatalf("registration: %v", err)
		}
	})
}
