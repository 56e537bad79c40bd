package pgauth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

func TestUserStoreConformance(t *testing.T) {
	authtest.RunUserStore(t, func(t *testing.T) auth.UserStore {
		pool := hipaakittest.Postgres(t)
		if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgauth.NewUserStore(pool)
	})
}

func TestMigrateUsersTwice(t *testing.T) {
	pool := hipaakittest.Postgres(t)
	for range 2 {
		if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
}

// The Authenticator's guarantees hold on PostgreSQL: each TOTP code is
// accepted once even when submitted concurrently, and lockout persists.
func TestAuthenticatorOnPostgres(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgauth.MigrateUsers(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := pgauth.MigrateSessions(ctx, pool); err != nil {
		t.Fatal(err)
	}
	users := pgauth.NewUserStore(pool)
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	sealer, err := auth.NewKeySealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	tenants, err := policy.NewTenants(policy.Tenant{PermanentLockout: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Users: users, Audit: audit.Discard{}, Sessions: pgauth.NewSessionStore(pool),
		Emergencies: pgauth.NewEmergencyLog(pool), Sealer: sealer, Argon2: password.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, Clock: clk, Lockout: auth.LockoutConfig{MaxFailures: 10, FreeFailures: 20}, Tenants: tenants})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "saffron-tundra-beacon-8"
	u, err := a.CreateUser(ctx, auth.NewUser{TenantID: "clinic", Name: "pat", Password: pw}, audit.Actor{}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.EnrollTOTP(ctx, u.ID, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		c, err := totp.GenerateCodeCustom(e.Secret(), clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := a.ConfirmTOTP(ctx, u.ID, code(), "", audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	c := code()
	var ok, invalid atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: "pat", Password: pw, TOTPCode: c})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, auth.ErrInvalidCredentials):
				invalid.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || invalid.Load() != 5 {
		t.Fatalf("one code submitted 6 times: %d accepted, %d refused; want 1 and 5", ok.Load(), invalid.Load())
	}

	// Lockout is stored in the database; start from a clean counter (the
	// refused replays above counted as failures).
	if err := a.Unlock(ctx, u.ID, audit.Actor{}, audit.Origin{}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: "pat", Password: "wrong-password-here"}); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	stored, err := users.Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Lockout.Locked() {
		t.Fatal("account not locked after MaxFailures")
	}
}

func TestTOTPRaceOnPostgres(t *testing.T) {
	authtest.RunTOTPRace(t, func(t *testing.T) auth.UserStore {
		pool := hipaakittest.Postgres(t)
		if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgauth.NewUserStore(pool)
	})
}

func TestAttemptStoreConformance(t *testing.T) {
	authtest.RunAttemptStore(t, func(t *testing.T) auth.AttemptStore {
		pool := hipaakittest.Postgres(t)
		if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgauth.NewAttemptStore(pool)
	})
}
