package pgaudit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

func writeN(t *testing.T, pool *pgxpool.Pool, opts pgaudit.Options, from, to int) {
	t.Helper()
	w, err := pgaudit.Open(context.Background(), pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		if err := w.Write(context.Background(), ev(i, "p1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// rawExec runs SQL with the append-only triggers off, as an attacker with
// the database owner's rights could.
func rawExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "SET session_replication_role = DEFAULT")
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

func TestTreeProofsAndRewoundHead(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	key := newKey(t)
	keys, _ := signing.NewKeySet(pub(key))
	opts := pgaudit.Options{Stream: "app", Signer: key, CheckpointEvery: 10, Clock: clock.NewFake(t0)}
	writeN(t, pool, opts, 0, 25)
	p := pgaudit.NewProver(pool, "app", keys)
	old, err := p.TreeCheckpoint(ctx)
	if err != nil || old.Size != 25 {
		t.Fatalf("checkpoint: %d %v", old.Size, err)
	}
	for _, seq := range []uint64{1, 13, 25} {
		proof, err := p.ProveInclusion(ctx, seq)
		if err != nil {
			t.Fatalf("prove %d: %v", seq, err)
		}
		b, _ := proof.Marshal()
		if _, err := audit.VerifyInclusionProof(b, keys, "app"); err != nil {
			t.Fatalf("verify %d: %v", seq, err)
		}
	}
	// a v1 stream (no tree rows) is upgraded when its writer opens
	rawExec(t, pool, "DELETE FROM hipaakit_audit_tree")
	writeN(t, pool, opts, 25, 40)
	kept, err := p.VerifySince(ctx, old)
	if err != nil || kept.Size != 40 {
		t.Fatalf("after upgrade: %d %v", kept.Size, err)
	}
	proof, err := p.ProveConsistency(ctx, old, kept)
	if err != nil || audit.VerifyConsistency(old, kept, proof) != nil {
		t.Fatalf("consistency: %v", err)
	}

	// rewind: delete the newest rows and move the head back to seq 25
	var head []byte
	if err := pool.QueryRow(ctx, "SELECT hash FROM hipaakit_audit_records WHERE stream = 'app' AND seq = 25").Scan(&head); err != nil {
		t.Fatal(err)
	}
	rawExec(t, pool, "DELETE FROM hipaakit_audit_records WHERE stream = 'app' AND seq > 25")
	rawExec(t, pool, "DELETE FROM hipaakit_audit_checkpoints WHERE stream = 'app' AND seq > 25")
	rawExec(t, pool, "DELETE FROM hipaakit_audit_tree_checkpoints WHERE stream = 'app' AND size > 25")
	cut := tlog.StoredHashCount(25)
	rawExec(t, pool, "DELETE FROM hipaakit_audit_tree WHERE stream = 'app' AND first_idx >= $1", cut)
	rawExec(t, pool, `UPDATE hipaakit_audit_tree SET hashes = substring(hashes FOR ($1 - first_idx)::integer * 32)
		WHERE stream = 'app' AND first_idx + length(hashes) / 32 > $1`, cut)
	rawExec(t, pool, "UPDATE hipaakit_audit_streams SET last_seq = 25, head = $1 WHERE stream = 'app'", head)
	verify(t, pool, key) // the v1 hole: the rewound stream verifies
	if _, err := p.VerifySince(ctx, kept); !errors.Is(err, audit.ErrNotExtended) {
		t.Fatalf("rewound stream: %v", err)
	}
	// and rewritten past the kept size with other records
	writeN(t, pool, opts, 100, 120)
	if _, err := p.VerifySince(ctx, kept); !errors.Is(err, audit.ErrNotExtended) {
		t.Fatalf("rewritten stream: %v", err)
	}
	if _, err := p.VerifySince(ctx, old); err != nil {
		t.Fatalf("against the checkpoint before the rewind: %v", err)
	}
	other, _ := signing.NewKeySet(pub(newKey(t)))
	if _, err := pgaudit.NewProver(pool, "app", other).TreeCheckpoint(ctx); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
}
