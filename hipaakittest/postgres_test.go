package hipaakittest

import (
	"context"
	"testing"
)

func TestNewSchemaIsolated(t *testing.T) {
	a, sa := PostgresSchema(t)
	b, sb := PostgresSchema(t)
	if sa == sb {
		t.Fatalf("two schemas share the name %q", sa)
	}
	ctx := context.Background()
	if _, err := a.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
	// The second schema must not see the first one's table.
	if _, err := b.Exec(ctx, "SELECT * FROM t"); err == nil {
		t.Fatal("table leaked across test schemas")
	}
	var cur string
	if err := b.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil || cur != sb {
		t.Fatalf("current_schema = %q, %v; want %q", cur, err, sb)
	}
}
