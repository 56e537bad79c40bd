package auth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// Two services on one PostgreSQL schema (two replicas): a ceremony begun
// on one finishes on the other, a challenge completes one ceremony in the
// whole deployment, also when the same assertion races on both, and
// failures on both replicas count against one account limit.
func TestPasskeyChallengesAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgauth.MigrateUsers(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := pgauth.MigrateSessions(ctx, pool); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	replica := func() *auth.Service {
		svc, err := auth.New(auth.Config{Users: pgauth.NewUserStore(pool), Sessions: pgauth.NewSessionStore(pool),
			Attempts: pgauth.NewAttemptStore(pool), Emergencies: pgauth.NewEmergencyLog(pool), Audit: &recorder{},
			Argon2: fastArgon2, Clock: clk, ChallengeKey: key,
			Passkeys: passkeyConfig()})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	a, b := replica(), replica()
	u, err := a.CreateUser(ctx, auth.NewUser{TenantID: "clinic-a", Name: "pk-ivy", Password: testPassword}, audit.Actor{UserID: "seed"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	dev := newSoftAuthenticator(t, testRPID, testOrigin)
	opts, err := a.BeginPasskeyRegistration(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp := dev.Register(opts)
	if _, err := b.FinishPasskeyRegistration(ctx, u.ID, "phone", resp, audit.Origin{}); err != nil {
		t.Fatalf("registration begun on A, finished on B: %v", err)
	}
	_, err = a.FinishPasskeyRegistration(ctx, u.ID, "phone", resp, audit.Origin{})
	wantPasskeyReason(t, err, "unknown_challenge", false)

	opts, err = b.BeginPasskeyLogin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	assertion := dev.Assert(opts)
	if res, err := a.FinishPasskeyLogin(ctx, assertion, "", audit.Origin{}); err != nil || res.User.ID != u.ID {
		t.Fatalf("login begun on B, finished on A: %v", err)
	}
	_, err = b.FinishPasskeyLogin(ctx, assertion, "", audit.Origin{})
	wantPasskeyReason(t, err, "unknown_challenge", true)

	// One assertion (of an authenticator that does not count, so only the
	// challenge's single use can stop a replay) raced on both replicas.
	dev.Counter = 0
	u0, _ := a.Users().Get(ctx, u.ID)
	u0.Passkeys[0].SignCount = 0
	if err := a.Users().Update(ctx, u0); err != nil {
		t.Fatal(err)
	}
	opts, _ = a.BeginPasskeyLogin(ctx, "")
	challenge, _ := challengeOf(t, opts)
	assertion = dev.AssertWith(challenge, dev.ClientData("webauthn.get", challenge))
	const n = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := svc.FinishPasskeyLogin(ctx, assertion, "", audit.Origin{}); err == nil {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d of %d racing finishes succeeded, want exactly 1", got, n)
	}

	// Failures alternate between the replicas: the account's free failures
	// (3) are shared, so the fourth attempt is throttled on either.
	wrongOrigin := func(svc *auth.Service) error {
		opts, err := svc.BeginPasskeyLogin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		dev.Origin = "https://evil.example"
		defer func() { dev.Origin = testOrigin }()
		_, err = svc.FinishPasskeyLogin(ctx, dev.Assert(opts), "", audit.Origin{})
		return err
	}
	for i, svc := range []*auth.Service{a, b, a} {
		if err := wrongOrigin(svc); !errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := wrongOrigin(b); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("fourth failure, on the other replica: %v, want ErrThrottled", err)
	}
}
