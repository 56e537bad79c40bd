package hipaakittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPostgresURL is the server used when HIPAAKIT_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the connection string tests use: HIPAAKIT_TEST_DATABASE_URL,
// or DefaultPostgresURL when that is unset.
func PostgresURL() string {
	if u := os.Getenv("HIPAAKIT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// postgresUnavailable skips the test, or fails it under CI.
func postgresUnavailable(tb testing.TB, err error) {
	tb.Helper()
	msg := fmt.Sprintf("PostgreSQL test database unreachable (set HIPAAKIT_TEST_DATABASE_URL): %v", err)
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + " [CI is set, so this is a failure, not a skip]")
	}
	tb.Skip(msg)
}

// PostgresSchema creates a uniquely named schema and returns a pool whose every
// connection has search_path set to it (and nothing else), together with the
// schema's name. The schema and the pool are removed by tb.Cleanup.
func PostgresSchema(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		postgresUnavailable(tb, err)
		return nil, ""
	}
	defer admin.Close(context.Background())

	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "hk_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}

	cfg, err := pgxpool.ParseConfig(PostgresURL())
	if err != nil {
		tb.Fatalf("pgtest: parse url: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("pgtest: pool: %v", err)
	}
	tb.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			tb.Logf("pgtest: cannot drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Logf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return pool, schema
}

// Postgres is PostgresSchema without the schema's name.
func Postgres(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, _ := PostgresSchema(tb)
	return pool
}

// PostgresPool opens another pool on schema (one that PostgresSchema
// created), as a second process of the same deployment would: its own
// connections, search_path set to schema. It is closed by tb.Cleanup,
// before the schema is dropped.
func PostgresPool(tb testing.TB, schema string) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(PostgresURL())
	if err != nil {
		tb.Fatalf("pgtest: parse url: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("pgtest: pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}
