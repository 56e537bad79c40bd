package pgauth_test

import (
	"context"
	"encoding/hex"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// The rows of testdata/rows_v1.sql, as an earlier pgauth wrote them (a user
// with a role request and two passkeys, a passkey session), keep reading
// to the same values.
func TestGoldenRows(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgauth.MigrateUsers(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := pgauth.MigrateSessions(ctx, pool); err != nil {
		t.Fatal(err)
	}
	rows, err := os.ReadFile("testdata/rows_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, string(rows)); err != nil {
		t.Fatalf("golden rows: %v", err)
	}
	at := func(h int) time.Time { return time.Date(2026, 2, 1, h, 0, 0, 0, time.UTC) }
	want := &auth.User{ID: "k5mqhc2wztobhwjzjnd6v3bq2i", TenantID: "clinic-7", Name: "dr.ada@example.org", Status: auth.StatusActive,
		Roles: []string{"physician"}, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$Ti4UOK/YiZhTfXc2Ld3RuA$7r01/8fwGNXJNpCVf2A/WRH1dxrypXZuwAeFq8tnKTE",
		PasswordChangedAt: at(1), Lockout: auth.LockoutState{Failures: 2, LastFailure: at(6)},
		RoleRequest: &auth.RoleRequest{Roles: []string{"admin", "physician"}, RequestedBy: "admin-1", RequestedAt: at(2)},
		Passkeys: []passkey.Credential{
			{ID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "work laptop", PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01},
				SignCount: 41, AAGUID: []byte{0xad, 0xce, 0, 2, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03},
				UserVerified: true, BackupEligible: true, BackupState: true, Transports: []string{"internal", "hybrid"},
				AttestationFormat: "none", CreatedAt: at(3), LastUsedAt: at(4)},
			{ID: []byte{9, 9}, Name: "security key", PublicKey: []byte{0xa5, 0x01}, CreatedAt: at(5)},
		},
		CreatedAt: at(0), UpdatedAt: at(5), Version: 4}
	got, err := pgauth.NewUserStore(pool).Get(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("golden user row:\n got %+v\nwant %+v", got, want)
	}
	hash, _ := hex.DecodeString("34a6f75ebc3219821f559f98224c01bf7a7c56e7b32ecedf182339c7da312db5")
	s, err := pgauth.NewSessionStore(pool).SessionByTokenHash(ctx, auth.TokenHash(hash))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "00112233445566778899aabbccddeeff" || !s.Passkey || !s.MFA || s.IdleTimeout != 15*time.Minute ||
		!s.ExpiresAt.Equal(time.Date(2026, 3, 1, 9, 20, 0, 0, time.UTC)) || s.Emergency != nil {
		t.Fatalf("golden session row: %+v", s)
	}
}
