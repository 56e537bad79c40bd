package pgaudit_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/signing"
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
		Keys:    mustKeySet(t, pub(key)),
		Close:   func() error { return w.Close(context.Background()) },
		Reopen: func(t *testing.T) audittest.Harness {
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			return pgHarness(t, pool, key)
		},
	}
}

// TestHistoryConformance runs the record-history conformance suite against
// the PostgreSQL trail, with a second writer (a replica's stream) on the
// same database.
func TestHistoryConformance(t *testing.T) { audittest.RunHistory(t, trailHarness) }

// TestListingOrderConformance runs the listing-order conformance suite
// (ascending and newest first) against the PostgreSQL trail, with a
// replica's stream on the same database.
func TestListingOrderConformance(t *testing.T) { audittest.RunListingOrder(t, trailHarness) }

func trailHarness(t *testing.T) audittest.HistoryHarness {
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "history-a", Signer: key})
	replica := open(t, pool, pgaudit.Options{Stream: "history-b", Signer: key})
	return audittest.HistoryHarness{Trail: pgaudit.NewTrail(w, pgaudit.NewStore(pool)), Replica: replica}
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
