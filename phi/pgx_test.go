package phi_test

import (
	"bytes"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
)

// TestSealedRoundTripsThroughPgx stores sealed values in a bytea column
// through pgx (driver.Valuer) and scans them back (sql.Scanner).
func TestSealedRoundTripsThroughPgx(t *testing.T) {
	pool := hipaakittest.Postgres(t)
	e := newEnv(t)
	b := phi.Binding{Subject: "p1", Field: "dob"}
	s := mustSeal(t, e.vault, b, "1970-01-01")
	if _, err := pool.Exec(ctx, `CREATE TABLE patients (id int PRIMARY KEY, dob bytea)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO patients VALUES (1, $1), (2, $2), (3, $3)`, s, phi.Sealed(nil), phi.Sealed{}); err != nil {
		t.Fatal(err)
	}
	var got phi.Sealed
	if err := pool.QueryRow(ctx, `SELECT dob FROM patients WHERE id = 1`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, s) {
		t.Fatal("bytea round trip changed the sealed value")
	}
	pt, err := e.vault.Open(ctx, b, got)
	if err != nil || string(pt.Reveal()) != "1970-01-01" {
		t.Fatalf("open after round trip: %v", err)
	}
	var isNull bool
	if err := pool.QueryRow(ctx, `SELECT dob IS NULL FROM patients WHERE id = 2`).Scan(&isNull); err != nil || !isNull {
		t.Fatalf("nil Sealed is not stored as NULL: %v", err)
	}
	got = phi.Sealed{1}
	if err := pool.QueryRow(ctx, `SELECT dob FROM patients WHERE id = 2`).Scan(&got); err != nil || got != nil {
		t.Fatalf("NULL scans to %v, %v", got, err)
	}
	if err := pool.QueryRow(ctx, `SELECT dob FROM patients WHERE id = 3`).Scan(&got); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty bytea scans to %v, %v", got, err)
	}
}
