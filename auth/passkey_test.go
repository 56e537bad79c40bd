package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/passkey"
)

const (
	testRPID   = "clinic.example"
	testOrigin = "https://clinic.example"
)

func passkeyConfig() passkey.Config {
	return passkey.Config{RPID: testRPID, Origins: []string{testOrigin}}
}

func withPasskeys(c *auth.Config) { c.Passkeys = passkeyConfig() }

// passkeyUser creates an active user and returns its ID.
func passkeyUser(t *testing.T, e *svcEnv, name string) string {
	t.Helper()
	u, err := e.svc.CreateUser(context.Background(), auth.NewUser{TenantID: "clinic-a", Name: name, Password: testPassword},
		audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func register(t testing.TB, e *svcEnv, id string, a *softAuthenticator) passkey.Credential {
	t.Helper()
	ctx := context.Background()
	opts, err := e.svc.BeginPasskeyRegistration(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.FinishPasskeyRegistration(ctx, id, "laptop", a.Register(opts), audit.Origin{})
	if err != nil {
		t.Fatalf("FinishPasskeyRegistration: %v", err)
	}
	return p
}

func wantPasskeyReason(t *testing.T, err error, reason string, login bool) {
	t.Helper()
	var pe *passkey.Error
	if !errors.As(err, &pe) || pe.Reason != reason {
		t.Fatalf("error %v, want PasskeyError %q", err, reason)
	}
	if login && !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("login refusal %v does not match ErrInvalidCredentials", err)
	}
}

func TestPasskeyRegisterAndPasswordlessLogin(t *testing.T) {
	e := newSvcEnv(t, withPasskeys)
	ctx := context.Background()
	id := passkeyUser(t, e, "pk-alice")
	a := newSoftAuthenticator(t, testRPID, testOrigin)
	p := register(t, e, id, a)
	if p.Name != "laptop" || !p.UserVerified || p.Fingerprint() != passkey.Fingerprint(a.CredentialID) {
		t.Fatalf("registered passkey %+v", p)
	}
	if ev := e.rec.find(audit.ActionMFAEnrolled, "passkey_registered"); len(ev) != 1 || ev[0].Attrs["credential"] != p.Fingerprint() {
		t.Fatalf("registration audit: %+v", ev)
	}

	opts, err := e.svc.BeginPasskeyLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	resp := a.Assert(opts)
	res, err := e.svc.FinishPasskeyLogin(ctx, resp, "", audit.Origin{})
	if err != nil || res.User.ID != id || !res.Authenticated || !res.MFA || !res.Passkey {
		t.Fatalf("FinishPasskeyLogin: %+v %v", res, err)
	}
	u := res.User
	if u.Passkeys[0].SignCount != 1 || !u.Passkeys[0].LastUsedAt.Equal(t0) {
		t.Fatalf("after login: %+v", u.Passkeys[0])
	}
	if ev := e.rec.find(audit.ActionLogin, "passkey"); len(ev) != 1 || ev[0].Actor.UserID != id {
		t.Fatalf("login audit: %+v", ev)
	}
	// The same assertion again: its challenge was used.
	_, err = e.svc.FinishPasskeyLogin(ctx, resp, "", audit.Origin{})
	wantPasskeyReason(t, err, "unknown_challenge", true)

	// Listing and removal.
	list, err := e.svc.ListPasskeys(ctx, id)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListPasskeys: %d %v", len(list), err)
	}
	if err := e.svc.RemovePasskey(ctx, id, "0000000000000000", "", audit.Origin{}); !errors.Is(err, passkey.ErrNotFound) {
		t.Fatalf("remove unknown: %v", err)
	}
	if err := e.svc.RemovePasskey(ctx, id, p.Fingerprint(), "", audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	if len(e.rec.find(audit.ActionMFAEnrolled, "passkey_removed")) != 1 {
		t.Fatal("removal not audited")
	}
	opts, _ = e.svc.BeginPasskeyLogin(ctx, "")
	_, err = e.svc.FinishPasskeyLogin(ctx, a.Assert(opts), "", audit.Origin{})
	wantPasskeyReason(t, err, "unknown_credential", true)
}

func TestPasskeyRefusals(t *testing.T) {
	e := newSvcEnv(t, withPasskeys)
	ctx := context.Background()
	id := passkeyUser(t, e, "pk-bob")
	a := newSoftAuthenticator(t, testRPID, testOrigin)
	register(t, e, id, a)

	login := func(mod func(a *softAuthenticator, opts []byte) []byte) error {
		opts, err := e.svc.BeginPasskeyLogin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.FinishPasskeyLogin(ctx, mod(a, opts), "", audit.Origin{})
		return err
	}
	t.Run("WrongOrigin", func(t *testing.T) {
		wantPasskeyReason(t, login(func(a *softAuthenticator, o []byte) []byte {
			a.Origin = "https://evil.example"
			defer func() { a.Origin = testOrigin }()
			return a.Assert(o)
		}), "verification_failed", true)
	})
	t.Run("WrongRPID", func(t *testing.T) {
		wantPasskeyReason(t, login(func(a *softAuthenticator, o []byte) []byte {
			a.RPID = "evil.example"
			defer func() { a.RPID = testRPID }()
			return a.Assert(o)
		}), "verification_failed", true)
	})
	t.Run("NoUserVerification", func(t *testing.T) {
		wantPasskeyReason(t, login(func(a *softAuthenticator, o []byte) []byte {
			a.UV = false
			defer func() { a.UV = true }()
			return a.Assert(o)
		}), "user_verification_required", true)
	})
	t.Run("WrongChallengeInClientData", func(t *testing.T) {
		wantPasskeyReason(t, login(func(a *softAuthenticator, o []byte) []byte {
			return a.AssertWith("AAAA", a.ClientData("webauthn.get", "AAAA"))
		}), "unknown_challenge", true)
	})
	t.Run("LoweredSignCounter", func(t *testing.T) {
		e.clk.Advance(time.Hour) // past the back-off of the refusals above
		if err := login(func(a *softAuthenticator, o []byte) []byte { return a.Assert(o) }); err != nil {
			t.Fatal(err)
		}
		err := login(func(a *softAuthenticator, o []byte) []byte {
			a.Counter -= 2 // assert adds one: the counter goes back by one
			return a.Assert(o)
		})
		wantPasskeyReason(t, err, "cloned", true)
		if len(e.rec.find(audit.ActionLoginFailed, "passkey_cloned")) != 1 {
			t.Fatal("clone not audited")
		}
	})
	t.Run("ExpiredChallenge", func(t *testing.T) {
		wantPasskeyReason(t, login(func(a *softAuthenticator, o []byte) []byte {
			e.clk.Advance(5*time.Minute + time.Second)
			a.Counter += 10
			return a.Assert(o)
		}), "expired", true)
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, in := range []string{"", "{}", "null", `{"id":"x","type":"public-key"}`, strings.Repeat("[", 10000)} {
			_, err := e.svc.FinishPasskeyLogin(ctx, []byte(in), "", audit.Origin{})
			wantPasskeyReason(t, err, "malformed", true)
			_, err = e.svc.FinishPasskeyRegistration(ctx, id, "x", []byte(in), audit.Origin{})
			wantPasskeyReason(t, err, "malformed", false)
		}
	})
	t.Run("RegistrationReplayAndOtherUser", func(t *testing.T) {
		other := passkeyUser(t, e, "pk-carol")
		opts, err := e.svc.BeginPasskeyRegistration(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		b := newSoftAuthenticator(t, testRPID, testOrigin)
		resp := b.Register(opts)
		_, err = e.svc.FinishPasskeyRegistration(ctx, id, "stolen", resp, audit.Origin{})
		wantPasskeyReason(t, err, "unknown_challenge", false)
		// The challenge is bound to its user: another user's attempt cannot
		// use it up. Its user finishes, once.
		if _, err = e.svc.FinishPasskeyRegistration(ctx, other, "mine", resp, audit.Origin{}); err != nil {
			t.Fatalf("registration by its user: %v", err)
		}
		_, err = e.svc.FinishPasskeyRegistration(ctx, other, "again", resp, audit.Origin{})
		wantPasskeyReason(t, err, "unknown_challenge", false)
	})
	t.Run("Disabled", func(t *testing.T) {
		plain := newSvcEnv(t)
		if _, err := plain.svc.BeginPasskeyLogin(ctx, ""); !errors.Is(err, passkey.ErrDisabled) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPasskeyConfigChecked(t *testing.T) {
	for name, pc := range map[string]passkey.Config{
		"NoOrigins":     {RPID: testRPID},
		"ForeignOrigin": {RPID: testRPID, Origins: []string{"https://other.example"}},
		"HTTPOrigin":    {RPID: testRPID, Origins: []string{"http://clinic.example"}},
		"PathInOrigin":  {RPID: testRPID, Origins: []string{"https://clinic.example/login"}},
		"LongTTL":       {RPID: testRPID, Origins: []string{testOrigin}, ChallengeTTL: time.Hour},
		"BadAAGUID":     {RPID: testRPID, Origins: []string{testOrigin}, AAGUIDs: [][]byte{{1}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.New(auth.Config{Users: auth.NewMemoryUserStore(), Sessions: auth.NewMemorySessionStore(),
				Emergencies: auth.NewMemoryEmergencyLog(), Audit: audit.Discard{}, Passkeys: pc})
			if err == nil || !strings.HasPrefix(err.Error(), "auth: Config.Passkeys") {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

// TestPasskeysDroppedOnRemoval: removing a user drops its passkeys, like
// its other credentials.
func TestPasskeysDroppedOnRemoval(t *testing.T) {
	e := newSvcEnv(t, withPasskeys)
	ctx := context.Background()
	id := passkeyUser(t, e, "pk-dave")
	register(t, e, id, newSoftAuthenticator(t, testRPID, testOrigin))
	if err := e.svc.SetStatus(ctx, id, auth.StatusRemoved, audit.Actor{UserID: "seed"}, audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	u, err := e.users.Get(ctx, id)
	if err != nil || u.Passkeys != nil {
		t.Fatalf("removed user keeps %d passkeys (%v)", len(u.Passkeys), err)
	}
}
