package pgaudit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// TestCosignaturesTwoPublishers: two processes publish the same stream's
// checkpoint to the same two witnesses at once, behind a barrier, into one
// database. Both rounds succeed, every witness cosigns, and exactly one
// row per witness is stored (the witnesses stamp the same second).
func TestCosignaturesTwoPublishers(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key})
	for i := range 20 {
		if err := w.Write(ctx, ev(i, "p-1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	logs, _ := signing.NewKeySet(pub(key))
	var eps []witness.Endpoint
	var wkeys []witness.Key
	for i := range 2 {
		wk := ed25519.NewKeyFromSeed(append(make([]byte, 31), byte(i+1)))
		wt, err := witness.New(witness.Config{Name: fmt.Sprintf("witness.example/w%d", i), Signer: wk, Logs: logs,
			StatePath: filepath.Join(t.TempDir(), "state.json"), Clock: clock.NewFake(t0)})
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, witness.Endpoint{Key: wt.Key(), Adder: wt})
		wkeys = append(wkeys, wt.Key())
	}
	store := pgaudit.NewCosignatureStore(pool)
	prover := pgaudit.NewProver(pool, "api-1", logs)
	var start, done sync.WaitGroup
	start.Add(1)
	statuses := make([]witness.Status, 2)
	errs := make([]error, 2)
	for i := range 2 {
		p, err := witness.NewPublisher(witness.PublisherConfig{Prover: pgaudit.NewProver(pool, "api-1", logs), Store: pgaudit.NewCosignatureStore(pool), Witnesses: eps})
		if err != nil {
			t.Fatal(err)
		}
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			statuses[i], errs[i] = p.PublishNow(ctx)
		}()
	}
	start.Done()
	done.Wait()
	cp, err := prover.TreeCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if errs[i] != nil || statuses[i].Cosigned != 2 || !statuses[i].Witnessed || statuses[i].Size != cp.Size {
			t.Fatalf("publisher %d: %+v %v", i, statuses[i], errs[i])
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM hipaakit_audit_cosignatures WHERE stream = 'api-1'").Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("%d cosignature rows, %v", rows, err)
	}
	st, err := witness.CheckStored(ctx, store, prover, logs, wkeys, 2)
	if err != nil || st.Cosigned != 2 || st.Size != cp.Size {
		t.Fatalf("stored: %+v %v", st, err)
	}
}
