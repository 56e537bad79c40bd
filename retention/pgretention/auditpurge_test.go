package pgretention_test

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
	"github.com/hipaakit/hipaakit/signing"
)

func TestPurgeAuditPostgresHonoursHolds(t *testing.T) {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := pgretention.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	clk := clock.NewFake(time.Date(2019, 1, 10, 12, 0, 0, 0, time.UTC))
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "api", Signer: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	write := func(subject string) {
		t.Helper()
		if err := w.Write(ctx, audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Target: audit.Target{Subject: subject}}); err != nil {
			t.Fatal(err)
		}
	}
	write("patient-a") // January 2019
	clk.Set(time.Date(2019, 2, 10, 0, 0, 0, 0, time.UTC))
	write("patient-held") // February 2019
	clk.Set(time.Date(2019, 3, 10, 0, 0, 0, 0, time.UTC))
	write("patient-b") // March 2019
	clk.Set(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	write("patient-c")
	defer w.Close(ctx)

	holds := pgretention.NewHoldStore(pool)
	reg, err := retention.NewRegistry(retention.RegistryConfig{Holds: holds, Audit: audit.Discard{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h, err := reg.Set(ctx, retention.HoldRequest{Subject: "patient-held", Kind: "encounter", Reason: "litigation", SetBy: "counsel"})
	if err != nil {
		t.Fatal(err)
	}
	// An unrelated kind-wide hold does not hold the audit trail.
	if _, err := reg.Set(ctx, retention.HoldRequest{Kind: "invoice", Reason: "tax", SetBy: "cfo"}); err != nil {
		t.Fatal(err)
	}
	ps := retention.MustPolicies(retention.AuditPolicy)
	opts := pgretention.AuditPurgeOptions{Signer: key, Clock: clk}

	res, err := pgretention.PurgeAudit(ctx, pool, ps, holds, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Partitions, []string{"hipaakit_audit_records_p201901"}) || res.Kept != "hipaakit_audit_records_p201902" {
		t.Fatalf("with hold: %+v", res)
	}
	if _, err := reg.Lift(ctx, h.ID, "counsel", "settled"); err != nil {
		t.Fatal(err)
	}
	res, err = pgretention.PurgeAudit(ctx, pool, ps, holds, opts)
	if err != nil {
		t.Fatal(err)
	}
	// February and March (and the empty partitions created ahead of them)
	// go; nothing younger than the six-year cutoff does.
	if len(res.Partitions) < 2 || !slices.Equal(res.Partitions[:2], []string{"hipaakit_audit_records_p201902", "hipaakit_audit_records_p201903"}) ||
		slices.ContainsFunc(res.Partitions, func(p string) bool { return p >= "hipaakit_audit_records_p201906" }) {
		t.Fatalf("after lift: %+v", res)
	}
	if _, err := pgaudit.NewStore(pool).Verify(ctx, audit.VerifyOptions{Keys: mustKeySet(t, key.Public().(ed25519.PublicKey))}); err != nil {
		t.Fatalf("trail after purges: %v", err)
	}
	// A hold on the whole audit kind stops every purge.
	if _, err := reg.Set(ctx, retention.HoldRequest{Kind: retention.KindAudit, Reason: "OCR investigation", SetBy: "privacy-officer"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	if res, err := pgretention.PurgeAudit(ctx, pool, ps, holds, pgretention.AuditPurgeOptions{Signer: key, Clock: clk, DryRun: true}); err != nil || len(res.Partitions) != 0 {
		t.Fatalf("audit-wide hold: %+v %v", res, err)
	}
	if _, err := pgretention.PurgeAudit(ctx, pool, retention.Policies{}, holds, opts); err == nil {
		t.Fatal("purge without an audit policy")
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
