package pgaudit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/signing"
)

// Overlapping requests are chained out of time order; a JSON Lines export
// of the whole trail (two streams) must still verify with audit.Verify.
func TestExportOfOverlappingRequestsVerifies(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	key := newKey(t)
	for i, stream := range []string{"api-b", "api-a"} {
		w := open(t, pool, pgaudit.Options{Stream: stream, Signer: key})
		audittest.ServeOverlapping(t, w, t0.Add(time.Duration(i)*time.Minute))
		audittest.ServeOverlapping(t, w, t0.Add(time.Hour))
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := pgaudit.NewStore(pool)
	opts := audit.VerifyOptions{Keys: mustKeySet(t, pub(key))}
	for name, s := range map[string]audit.Searcher{
		"Store":            st,
		"VerifiedSearcher": audit.VerifiedSearcher(st.Entries, opts),
	} {
		if n := audittest.ExportVerifies(t, s, opts); n != 8 {
			t.Fatalf("%s: exported %d records, want 8", name, n)
		}
	}
}

// A row edited in place by someone with database access (triggers bypassed)
// is reported by query, export and accounting through a VerifiedSearcher.
func TestVerifiedSearcherReportsTamperingPostgres(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key})
	audittest.ServeOverlapping(t, w, t0)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SET session_replication_role = replica")
	if err == nil {
		_, err = conn.Exec(ctx, `UPDATE hipaakit_audit_records SET subject = 'p-9', line = convert_to(replace(convert_from(line, 'UTF8'), '"subject":"p-2"', '"subject":"p-9"'), 'UTF8') WHERE subject = 'p-2'`)
	}
	conn.Release()
	if err != nil {
		t.Fatal(err)
	}
	st := pgaudit.NewStore(pool)
	verified := audit.VerifiedSearcher(st.Entries, audit.VerifyOptions{Keys: mustKeySet(t, pub(key))})
	audittest.ReadsReportTampering(t, st, verified, "p-9", t0.Add(-time.Hour), t0.Add(time.Hour))
}

// A forged checkpoint row (a real checkpoint with a higher seq and a zeroed
// signature) is a bad signature, never truncation of the untouched trail.
func TestForgedCheckpointRowIsBadSignature(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key})
	audittest.ServeOverlapping(t, w, t0)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c := audit.Checkpoint{Stream: "api-1", Seq: 9, Head: audit.Hash{9}, Time: t0, Reason: audit.CheckpointCount,
		KeyID: signing.KeyID(pub(key)), Sig: make([]byte, ed25519.SignatureSize)}
	line, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO hipaakit_audit_checkpoints (stream, seq, reason, line) VALUES ($1, $2, $3, $4)",
		c.Stream, int64(c.Seq), string(c.Reason), line); err != nil {
		t.Fatal(err)
	}
	_, err = pgaudit.NewStore(pool).Verify(ctx, audit.VerifyOptions{Keys: mustKeySet(t, pub(key))})
	var ve *audit.VerifyError
	if !errors.As(err, &ve) || ve.Problem != audit.ProblemSignature || ve.Seq != 9 || !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("forged checkpoint row: %v", err)
	}
	// and as an expected checkpoint it is refused the same way
	_, err = pgaudit.NewStore(pool).Verify(ctx, audit.VerifyOptions{Keys: mustKeySet(t, pub(key)), Expect: []audit.Checkpoint{c}})
	if !errors.As(err, &ve) || ve.Problem != audit.ProblemSignature {
		t.Fatalf("forged expected checkpoint: %v", err)
	}
}
