package pgbreach_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/breach/breachtest"
	"github.com/hipaakit/hipaakit/breach/pgbreach"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

func newStore(t *testing.T) (*pgbreach.Store, func() *pgbreach.Store) {
	pool := hipaakittest.Postgres(t)
	if err := pgbreach.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	if err := pgbreach.Migrate(context.Background(), pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	open := func() *pgbreach.Store {
		s, err := pgbreach.New(pool, pgbreach.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open(), open
}

func TestConformance(t *testing.T) {
	reopen := map[breach.Store]func() *pgbreach.Store{}
	breachtest.Run(t, breachtest.Store{
		New: func(t *testing.T) breach.Store {
			s, open := newStore(t)
			reopen[s] = open
			return s
		},
		Reopen: func(t *testing.T, s breach.Store) breach.Store { return reopen[s]() },
	})
}

func TestAppendOnlyAndTamperDetected(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgbreach.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	s, _ := pgbreach.New(pool, pgbreach.Config{})
	if err := s.Append(ctx, breachtest.Entry("INC-T1", 1, "")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE breach_entries SET line = 'x'`, `DELETE FROM breach_entries`, `TRUNCATE breach_entries`} {
		if _, err := pool.Exec(ctx, q); err == nil {
			t.Fatalf("%s succeeded on an append-only table", q)
		}
	}
	// A row written around the store (bypassing the triggers is not
	// possible; an insert is): a non-canonical line is refused on read.
	if _, err := pool.Exec(ctx, `INSERT INTO breach_entries (incident, seq, line) VALUES ('INC-T1', 2, '{"v":1}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entries(ctx, "INC-T1"); !errors.Is(err, breach.ErrMalformed) {
		t.Fatalf("Entries over a forged row: %v, want ErrMalformed", err)
	}
}
