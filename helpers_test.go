package hipaakit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit/hipaakittest"
)

// withSearchPath returns dsn with its connections confined to schema.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("the test database URL does not parse: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// dropSchema drops a schema Open created beside a test's own.
func dropSchema(t *testing.T, schema string) {
	pool := hipaakittest.Postgres(t)
	if _, err := pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Logf("drop schema: %v", err)
	}
}

func sprintf(verb string, v any) string { return fmt.Sprintf(verb, v) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
