package retention_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/signing"
)

// TestPurgeAuditArchive applies the audit policy and the legal holds to
// the archive: nothing before six years, a held subject's unit and every
// newer one kept, and the rest purged once the hold is lifted.
func TestPurgeAuditArchive(t *testing.T) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	keys, _ := signing.NewKeySet(priv.Public().(ed25519.PublicKey))
	clk := clock.NewFake(time.Date(2020, 2, 29, 12, 0, 0, 0, time.UTC))
	log, err := audit.OpenFileLog(ctx, filepath.Join(t.TempDir(), "audit"), audit.FileOptions{Signer: priv, Clock: clk, SegmentMaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for _, s := range []string{"patient-a", "patient-held", "patient-b", "patient-c"} {
		if err := log.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Target: audit.Target{Subject: s}}); err != nil {
			t.Fatal(err)
		}
		if _, err := log.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(30 * 24 * time.Hour)
	}
	clk.Advance(60 * 24 * time.Hour)
	a, err := archive.New(archive.Config{Target: &archive.MemoryTarget{Clock: clk}, Keys: keys, Signer: priv, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := a.Archive(ctx, archive.FileSource(log)); err != nil || len(rep.Archived) != 3 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
	hs, _ := retention.OpenFileHoldStore(t.TempDir())
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: audit.Discard{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ps := retention.MustPolicies(retention.AuditPolicy)
	if rep, err := retention.PurgeAuditArchive(ctx, a, "audit", log, ps, reg, clk.Now(), false); err != nil || len(rep.Purged) != 0 {
		t.Fatalf("within retention: %+v %v", rep, err)
	}
	if _, err := reg.Set(ctx, retention.HoldRequest{Subject: "patient-held", Kind: "encounter", Reason: "litigation", SetBy: "u1"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	rep, err := retention.PurgeAuditArchive(ctx, a, "audit", log, ps, reg, clk.Now(), false)
	if err != nil || rep.StoppedBy != audit.PurgeStopHeld || len(rep.Purged) != 1 {
		t.Fatalf("held: %+v %v", rep, err)
	}
	holds, _ := reg.Active(ctx)
	if _, err := reg.Lift(ctx, holds[0].ID, "u2", "case closed"); err != nil {
		t.Fatal(err)
	}
	if rep, err = retention.PurgeAuditArchive(ctx, a, "audit", log, ps, reg, clk.Now(), false); err != nil || len(rep.Purged) != 1 || rep.Purged[0].First != 2 {
		t.Fatalf("after lift: %+v %v", rep, err)
	}
	if _, err := a.Verify(ctx, "audit"); err != nil {
		t.Fatalf("archive after purges: %v", err)
	}
	if _, err := retention.PurgeAuditArchive(ctx, a, "audit", log, ps, failingHolds{}, clk.Now(), false); err == nil {
		t.Fatal("purge without readable holds")
	}
}
