package pgaudit_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
)

// TestConformance runs the audit.Writer conformance suite against the
// PostgreSQL writer.
func TestConformance(t *testing.T) {
	audittest.Run(t, func(t *testing.T) audittest.Harness {
		pool := setup(t)
		key := newKey(t)
		return pgHarness(t, pool, key)
	})
}

func pgHarness(t *testing.T, pool *pgxpool.Pool, key ed25519.PrivateKey) audittest.Harness {
	w, err := pgaudit.Open(context.Background(), pool, pgaudit.Options{Stream: "conformance", Signer: key, CheckpointEvery: 16})
	if err != nil {
		t.Fatal(err)
	}
	return audittest.Harness{
		Writer:  w,
		Entries: pgaudit.NewStore(pool).Entries,
		Keys:    []ed25519.PublicKey{pub(key)},
		Close:   func() error { return w.Close(context.Background()) },
		Reopen: func(t *testing.T) audittest.Harness {
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			return pgHarness(t, pool, key)
		},
	}
}
