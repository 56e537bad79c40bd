package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// The failed-login benchmarks pair a known account (BenchmarkFailedLogin*Known)
// with its baseline, an unknown name (BenchmarkFailedLogin*Unknown), on the
// file stores (auth/filestore users and attempts) and on PostgreSQL
// (pgauth.UserStore with pgauth.AttemptStore). Their ratio is the timing
// difference an attacker could use to tell which names exist; the target is
// within 10%. A cheap hash makes the store's share visible.

func benchAuthenticator(b *testing.B, users auth.UserStore, attempts auth.AttemptStore) *auth.Authenticator {
	a, err := auth.NewAuthenticator(auth.Config{Users: users, Attempts: attempts, Audit: audit.Discard{}, Argon2: fastArgon2, Lockout: auth.LockoutConfig{FreeFailures: 1 << 30, MaxFailures: 100}}, auth.NoSessions)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.CreateUser(context.Background(), auth.NewUser{TenantID: "clinic", Name: "nina", Password: "violet-harbor-lantern-42"},
		audit.Actor{}, audit.Origin{}); err != nil {
		b.Fatal(err)
	}
	return a
}

func benchFailedLogins(b *testing.B, a *auth.Authenticator, name string) {
	ctx := context.Background()
	// Warm the latency pad with the known account's reservations.
	for range 20 {
		a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: "nina", Password: "wrong guess, clearly"})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: name, Password: "wrong guess, clearly"}); !errors.Is(err, auth.ErrInvalidCredentials) {
			b.Fatal(err)
		}
	}
}

func fileBench(b *testing.B) *auth.Authenticator {
	dir := b.TempDir()
	users, err := filestore.OpenUserStore(dir + "/users")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { users.Close() })
	attempts, err := filestore.OpenAttemptStore(dir + "/attempts")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { attempts.Close() })
	return benchAuthenticator(b, users, attempts)
}

func pgBench(b *testing.B) *auth.Authenticator {
	pool := hipaakittest.Postgres(b)
	if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
		b.Fatal(err)
	}
	return benchAuthenticator(b, pgauth.NewUserStore(pool), pgauth.NewAttemptStore(pool))
}

func BenchmarkFailedLoginFileKnown(b *testing.B)   { benchFailedLogins(b, fileBench(b), "nina") }
func BenchmarkFailedLoginFileUnknown(b *testing.B) { benchFailedLogins(b, fileBench(b), "ghost") }
func BenchmarkFailedLoginPostgresKnown(b *testing.B) {
	benchFailedLogins(b, pgBench(b), "nina")
}
func BenchmarkFailedLoginPostgresUnknown(b *testing.B) {
	benchFailedLogins(b, pgBench(b), "ghost")
}

// benchPaired alternates failed logins for the known and the unknown name
// and reports the median of each and their ratio (unknown/known), which
// noise from other processes affects less than two separate runs.
func benchPaired(b *testing.B, a *auth.Authenticator) {
	ctx := context.Background()
	for range 20 {
		a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: "nina", Password: "wrong guess, clearly"})
	}
	var known, unknown []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for _, name := range []string{"nina", "ghost"} {
			start := time.Now()
			if _, err := a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: name, Password: "wrong guess, clearly"}); !errors.Is(err, auth.ErrInvalidCredentials) {
				b.Fatal(err)
			}
			if name == "nina" {
				known = append(known, time.Since(start))
			} else {
				unknown = append(unknown, time.Since(start))
			}
		}
	}
	med := func(d []time.Duration) float64 { slices.Sort(d); return float64(d[len(d)/2]) }
	b.ReportMetric(med(known), "known-ns")
	b.ReportMetric(med(unknown), "unknown-ns")
	b.ReportMetric(med(unknown)/med(known), "unknown/known")
}

func BenchmarkFailedLoginFilePaired(b *testing.B)     { benchPaired(b, fileBench(b)) }
func BenchmarkFailedLoginPostgresPaired(b *testing.B) { benchPaired(b, pgBench(b)) }
