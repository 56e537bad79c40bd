package pgaudit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/signing"
)

// TestArchivePostgresMonths archives a PostgreSQL stream written over
// three months: the two months a later one follows are archived, cut at
// their last signed checkpoints, by two archivers at once behind a
// barrier; the archive verifies on its own, proves inclusion and answers a
// query.
func TestArchivePostgresMonths(t *testing.T) {
	ctx := context.Background()
	pool := setup(t)
	key := newKey(t)
	clk := clock.NewFake(time.Date(2026, 2, 3, 9, 0, 0, 0, time.UTC))
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, Clock: clk, CheckpointEvery: 5})
	n := 0
	for _, m := range []time.Time{clk.Now(), time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 4, 10, 9, 0, 0, 0, time.UTC)} {
		clk.Set(m)
		for range 12 {
			if err := w.Write(ctx, ev(n, "p-1")); err != nil {
				t.Fatal(err)
			}
			n++
			clk.Advance(time.Minute)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ := signing.NewKeySet(pub(key))
	clk.Set(time.Date(2026, 5, 20, 0, 0, 0, 0, time.UTC))
	tgt := &archive.MemoryTarget{Clock: clk}
	var start, done sync.WaitGroup
	start.Add(1)
	reps := make([]archive.Report, 2)
	errs := make([]error, 2)
	for i := range 2 {
		a, err := archive.New(archive.Config{Target: tgt, Keys: keys, Signer: key, Clock: clk, After: 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			reps[i], errs[i] = a.Archive(ctx, pgaudit.ArchiveSource(pool, "api-1"))
		}()
	}
	start.Done()
	done.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("archiver %d: %v", i, errs[i])
		}
	}
	a, _ := archive.New(archive.Config{Target: tgt, Keys: keys, Clock: clk})
	units, err := a.Units(ctx, "api-1")
	if err != nil || len(units) != 2 || units[0].First != 1 || units[0].Last != 10 || units[1].First != 11 || units[1].Last != 20 {
		t.Fatalf("units: %+v %v", units, err)
	}
	if units[0].WrittenBy.Month() != time.February || units[1].WrittenBy.Month() != time.March {
		t.Fatalf("written by %v and %v", units[0].WrittenBy, units[1].WrittenBy)
	}
	res, err := a.Verify(ctx, "api-1")
	if err != nil || res.First != 1 || res.Last != 20 {
		t.Fatalf("verify: %+v %v", res, err)
	}
	proof, err := a.Prover("api-1").ProveInclusion(ctx, 17)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := proof.Marshal()
	if _, err := audit.VerifyInclusionProof(b, keys, "api-1"); err != nil {
		t.Fatalf("proof: %v", err)
	}
	page, err := audit.Query(ctx, a.Searcher("api-1"), audit.Filter{Subject: "p-1", Limit: 100})
	if err != nil || len(page.Records) != 20 {
		t.Fatalf("query: %d records, %v", len(page.Records), err)
	}
	// consistent with the live stream's newest checkpoint
	live, err := pgaudit.NewProver(pool, "api-1", keys).TreeCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acp, _ := a.Prover("api-1").TreeCheckpoint(ctx)
	cproof, err := pgaudit.NewProver(pool, "api-1", keys).ProveConsistency(ctx, acp, live)
	if err != nil || audit.VerifyConsistency(acp, live, cproof) != nil {
		t.Fatalf("consistency with the live stream: %v", err)
	}
}
