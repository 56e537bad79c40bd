package retention_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/signing"
)

func TestAuditRetentionLeapDay(t *testing.T) {
	ps := retention.MustPolicies(retention.AuditPolicy)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	keep, err := retention.AuditRetention(ps, now)
	if err != nil {
		t.Fatal(err)
	}
	cutoff := now.Add(-keep)
	// Every instant at or before the cutoff has passed six calendar years.
	for _, t0 := range []time.Time{cutoff, cutoff.Add(-time.Hour), time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC).Add(-2 * time.Minute)} {
		if due := retention.AuditPolicy.Keep.AddTo(t0); due.After(now) {
			t.Fatalf("event at %v is due %v, after now, but older than the cutoff %v", t0, due, cutoff)
		}
	}
	// And the cutoff is not needlessly early: within five days and a minute.
	if earliest := time.Date(2020, 2, 25, 23, 59, 0, 0, time.UTC); cutoff.Before(earliest) {
		t.Fatalf("cutoff %v is too conservative", cutoff)
	}
	if _, err := retention.AuditRetention(retention.Policies{}, now); !errors.Is(err, retention.ErrNoAuditPolicy) {
		t.Fatalf("no policy: %v", err)
	}
}

func TestPurgeAuditHonoursPolicyAndHolds(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "audit")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	clk := clock.NewFake(time.Date(2020, 2, 29, 12, 0, 0, 0, time.UTC))
	log, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: priv, Clock: clk, SegmentMaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	write := func(subject string) {
		t.Helper()
		e := audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Target: audit.Target{Subject: subject}}
		if err := log.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
		// a signed checkpoint proves when the record was written: purges
		// decide by that, never by the event's time
		if _, err := log.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write("patient-a") // 2020-02-29: due 2026-03-01 12:00
	clk.Set(time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC))
	write("patient-held") // due 2026-06-01
	write("patient-b")
	clk.Set(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC))
	write("patient-c")

	hs, _ := retention.OpenFileHoldStore(t.TempDir())
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: audit.Discard{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ps := retention.MustPolicies(retention.AuditPolicy)

	// An hour before the leap-day event's due time (Mar 1 12:00) nothing
	// goes; a day after it (the slack AuditRetention keeps), it goes.
	rep, err := retention.PurgeAudit(ctx, log, ps, reg, clk.Now(), false)
	if err != nil || len(rep.Purged) != 0 {
		t.Fatalf("before due: %+v %v", rep, err)
	}
	clk.Set(time.Date(2026, 3, 2, 12, 2, 0, 0, time.UTC))
	if rep, err = retention.PurgeAudit(ctx, log, ps, reg, clk.Now(), true); err != nil || len(rep.Purged) != 1 || !rep.DryRun {
		t.Fatalf("dry run after due: %+v %v", rep, err)
	}
	if rep, err = retention.PurgeAudit(ctx, log, ps, reg, clk.Now(), false); err != nil || len(rep.Purged) != 1 {
		t.Fatalf("after due: %+v %v", rep, err)
	}

	// A hold on a subject keeps its segment (and every newer one).
	if _, err := reg.Set(ctx, retention.HoldRequest{Subject: "patient-held", Kind: "encounter", Reason: "litigation", SetBy: "u1"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	rep, err = retention.PurgeAudit(ctx, log, ps, reg, clk.Now(), false)
	if err != nil || len(rep.Purged) != 0 || rep.StoppedBy != audit.PurgeStopHeld {
		t.Fatalf("held: %+v %v", rep, err)
	}
	holds, _ := reg.Active(ctx)
	if _, err := reg.Lift(ctx, holds[0].ID, "u2", "case closed"); err != nil {
		t.Fatal(err)
	}
	if rep, err = retention.PurgeAudit(ctx, log, ps, reg, clk.Now(), false); err != nil || len(rep.Purged) != 2 {
		t.Fatalf("after lift: %+v %v", rep, err)
	}
	if _, err := log.Reader().Verify(ctx, audit.VerifyOptions{Keys: mustKeySet(t, priv.Public().(ed25519.PublicKey))}); err != nil {
		t.Fatalf("trail does not verify after purges: %v", err)
	}
	if _, err := retention.PurgeAudit(ctx, log, ps, failingHolds{}, clk.Now(), false); err == nil {
		t.Fatal("purge without readable holds")
	}
}

func TestAuditHeld(t *testing.T) {
	holds := []retention.Hold{
		{ID: "a", Subject: "p1", Kind: "lab"},
		{ID: "b", Kind: "encounter"},
		{ID: "c", Subject: "p2", LiftedAt: time.Now()},
	}
	if !retention.AuditHeld(holds, "p1") || retention.AuditHeld(holds, "p2") || retention.AuditHeld(holds, "p3") || retention.AuditHeld(holds, "") {
		t.Fatal("subject holds")
	}
	if !retention.AuditHeld(append(holds, retention.Hold{ID: "d", Kind: retention.KindAudit}), "") {
		t.Fatal("a hold on the audit kind holds the whole trail")
	}
}

// Every instant older than the cutoff is due by now, for many nows and
// periods (AddTo is not monotonic around missing days; the cutoff must
// still be safe).
func TestAuditRetentionIsSafe(t *testing.T) {
	for _, p := range []retention.Period{{Years: 6}, {Years: 1}, {Months: 1}, {Months: 13, Days: 2}} {
		ps := retention.MustPolicies(retention.Policy{Kind: retention.KindAudit, Keep: p})
		for d := 0; d < 800; d += 3 {
			now := time.Date(2027, 1, 1, 7, 30, 0, 0, time.UTC).AddDate(0, 0, d)
			keep, err := retention.AuditRetention(ps, now)
			if err != nil {
				t.Fatal(err)
			}
			cutoff := now.Add(-keep)
			for back := time.Duration(0); back < 72*time.Hour; back += 37 * time.Minute {
				if due := p.AddTo(cutoff.Add(-back)); due.After(now) {
					t.Fatalf("%v now %v: instant %v before cutoff is due %v", p, now, cutoff.Add(-back), due)
				}
			}
		}
	}
}

// An audit policy shorter than six calendar years is refused by the purge
// (there is no override on this path): a one-day policy purges nothing.
func TestPurgeAuditRefusesShortPolicy(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "audit")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	clk := clock.NewFake(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	log, err := audit.OpenFileLog(ctx, dir, audit.FileOptions{Signer: priv, Clock: clk, SegmentMaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for range 3 {
		if err := log.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(72 * time.Hour)
	hs, _ := retention.OpenFileHoldStore(t.TempDir())
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: hs, Audit: audit.Discard{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ps := retention.MustPolicies(retention.Policy{Kind: retention.KindAudit, Keep: retention.Period{Days: 1}})
	rep, err := retention.PurgeAudit(ctx, log, ps, reg, clk.Now(), false)
	if !errors.Is(err, audit.ErrRetentionTooShort) || len(rep.Purged) != 0 {
		t.Fatalf("a one-day audit policy purged: %+v %v", rep, err)
	}
	if segs, _ := log.Reader().Segments(); len(segs) != 3 {
		t.Fatalf("segments removed: %d left", len(segs))
	}
}

// retention's audit policy and audit's purges share one six years.
func TestAuditPolicyIsAuditsSixYears(t *testing.T) {
	for d := 0; d < 4*366; d++ {
		at := time.Date(2024, 1, 1, 13, 0, 0, 0, time.UTC).AddDate(0, 0, d)
		if got, want := retention.AuditPolicy.Keep.AddTo(at), audit.SixYearsAfter(at); !got.Equal(want) {
			t.Fatalf("%v: policy %v, audit %v", at, got, want)
		}
	}
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
