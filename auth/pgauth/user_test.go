package pgauth_test

import (
	"context"
	"testing"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/internal/pgtest"
)

func TestUserStoreConformance(t *testing.T) {
	authtest.RunUserStore(t, func(t *testing.T) auth.UserStore {
		pool := pgtest.New(t)
		if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pgauth.NewUserStore(pool)
	})
}

func TestMigrateUsersTwice(t *testing.T) {
	pool := pgtest.New(t)
	for range 2 {
		if err := pgauth.MigrateUsers(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
	}
}
