package archive_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
)

// TestArchivePurge purges archived units only once their six years have
// passed, keeps held ones and the newest, records the purge in the live
// log, and leaves an archive that still verifies and proves.
func TestArchivePurge(t *testing.T) {
	ctx := context.Background()
	f, us := archived(t)
	opts := archive.PurgeOptions{Audit: f.log}
	rep, err := f.a.Purge(ctx, "audit", opts)
	if err != nil || len(rep.Purged) != 0 || rep.StoppedBy != archive.PurgeStopRetention {
		t.Fatalf("purge within retention: %+v %v", rep, err)
	}
	// the lock agrees: nothing can be deleted before its date
	if err := f.tgt.Delete(ctx, fmt.Sprintf("audit/audit/seg/%020d.jsonl", us[0].First)); !errors.Is(err, archive.ErrRetained) {
		t.Fatalf("delete within retention: %v", err)
	}
	if _, err := f.a.Purge(ctx, "audit", archive.PurgeOptions{}); !errors.Is(err, archive.ErrConfig) {
		t.Fatalf("purge without an audit writer: %v", err)
	}
	f.clk.Set(audit.SixYearsAfter(us[1].WrittenBy).Add(time.Second))
	// a hold on a subject of the second unit keeps it and every newer one
	held := func(r *audit.Record) bool { return r.Seq >= us[1].First && r.Seq <= us[1].Last }
	rep, err = f.a.Purge(ctx, "audit", archive.PurgeOptions{Audit: f.log, Held: held})
	if err != nil || len(rep.Purged) != 1 || rep.StoppedBy != archive.PurgeStopHeld || rep.ThroughSeq != us[0].Last {
		t.Fatalf("purge with a hold: %+v %v", rep, err)
	}
	rep, err = f.a.Purge(ctx, "audit", archive.PurgeOptions{Audit: f.log, DryRun: true})
	if err != nil || len(rep.Purged) != 1 || rep.Purged[0].First != us[1].First || rep.StoppedBy != archive.PurgeStopRetention {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	rep, err = f.a.Purge(ctx, "audit", opts)
	if err != nil || len(rep.Purged) != 1 || rep.ThroughSeq != us[1].Last {
		t.Fatalf("purge: %+v %v", rep, err)
	}
	left, err := f.a.Units(ctx, "audit")
	if err != nil || len(left) != len(us)-2 || left[0].First != us[2].First {
		t.Fatalf("units left: %d %v", len(left), err)
	}
	res, err := f.a.Verify(ctx, "audit")
	if err != nil || res.First != us[2].First {
		t.Fatalf("verify after purge: %+v %v", res, err)
	}
	proof, err := f.a.Prover("audit").ProveInclusion(ctx, us[2].First)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := proof.Marshal()
	if _, err := audit.VerifyInclusionProof(b, f.keys, "audit"); err != nil {
		t.Fatalf("proof after purge: %v", err)
	}
	if _, err := f.a.Prover("audit").ProveInclusion(ctx, us[0].First); !errors.Is(err, audit.ErrNoTree) {
		t.Fatalf("proof of a purged record: %v", err)
	}
	// the two purges are recorded in the live log, after the fact
	n := 0
	for r, err := range f.log.Reader().Records(ctx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Event.Action == audit.ActionRetentionPurge && r.Event.Attrs["archive"] == "true" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d archive purges recorded, want 2", n)
	}
	// never the newest unit, whose checkpoint the rest verifies against
	f.clk.Set(audit.SixYearsAfter(us[len(us)-1].WrittenBy).AddDate(1, 0, 0))
	rep, err = f.a.Purge(ctx, "audit", opts)
	if err != nil || rep.StoppedBy != archive.PurgeStopNewest {
		t.Fatalf("purge of everything: %+v %v", rep, err)
	}
	if left, _ := f.a.Units(ctx, "audit"); len(left) != 1 {
		t.Fatalf("%d units left, want 1", len(left))
	}
	if _, err := f.a.Verify(ctx, "audit"); err != nil {
		t.Fatalf("verify of the last unit: %v", err)
	}
}
