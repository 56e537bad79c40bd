package pgaudit_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
)

func partitionNames(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rs, err := pool.Query(context.Background(), `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'hipaakit_audit_records'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rs.Next() {
		var s string
		rs.Scan(&s)
		out = append(out, s)
	}
	return out
}

// Records written in early 2019 by two instances; in 2025 the oldest
// months pass the six-year retention. A legal hold keeps its partition and
// every newer one; releasing it lets the purge continue. The trail verifies
// after each step, and a live writer continues its chain after the purge.
func TestPurgeWholePartitionsWithHoldsAndAnchors(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2019, 1, 10, 12, 0, 0, 0, time.UTC))
	wa := open(t, pool, pgaudit.Options{Stream: "api-a", Signer: key, Clock: clk, CheckpointEvery: 4})
	wb := open(t, pool, pgaudit.Options{Stream: "api-b", Signer: key, Clock: clk})
	write := func(w *pgaudit.Writer, subject string) {
		t.Helper()
		e := ev(0, subject)
		e.Time = time.Time{} // stamped by the writer's clock
		if err := w.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for month := range 3 { // January, February, March 2019
		for range 3 {
			write(wa, "p-jan")
			write(wb, "p-other")
		}
		if month == 1 {
			write(wa, "p-held") // February holds a record of the held patient
		}
		clk.Advance(31 * 24 * time.Hour)
	}
	// The writers go idle for six years.
	clk.Set(time.Date(2025, 4, 20, 0, 0, 0, 0, time.UTC))
	write(wa, "p-new")
	verify(t, pool, key)

	if err := pgaudit.PlaceHold(ctx, pool, "case-17", "p-held", "litigation"); err != nil {
		t.Fatal(err)
	}
	dry, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Partitions, []string{"hipaakit_audit_records_p201901"}) || dry.Kept != "hipaakit_audit_records_p201902" {
		t.Fatalf("dry run %+v", dry)
	}
	if got := partitionNames(t, pool); got[0] != "hipaakit_audit_records_p201901" {
		t.Fatalf("dry run dropped: %v", got)
	}

	res, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Partitions, dry.Partitions) || len(res.Boundaries) != 2 {
		t.Fatalf("purge %+v", res)
	}
	for _, b := range res.Boundaries {
		if b.Seq != 3 { // three records per stream in January
			t.Fatalf("boundary %+v", b)
		}
	}
	if got := partitionNames(t, pool); slices.Contains(got, "hipaakit_audit_records_p201901") || !slices.Contains(got, "hipaakit_audit_records_p201902") {
		t.Fatalf("partitions after purge: %v", got)
	}
	verify(t, pool, key)

	// The live writers carry on after the purge record appended to their streams.
	write(wa, "p-new")
	write(wb, "p-new")
	verify(t, pool, key)

	// Without the anchors' purge record the start is unexplained: verification
	// with another key fails on the anchor's signature.
	if _, err := pgaudit.NewStore(pool).Verify(ctx, audit.VerifyOptions{Keys: mustKeySet(t, pub(newKey(t)))}); !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("foreign key: %v", err)
	}

	if err := pgaudit.ReleaseHold(ctx, pool, "case-17"); err != nil {
		t.Fatal(err)
	}
	if err := pgaudit.ReleaseHold(ctx, pool, "case-17"); !errors.Is(err, pgaudit.ErrHoldNotFound) {
		t.Fatal(err)
	}
	res, err = pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Partitions, []string{"hipaakit_audit_records_p201902", "hipaakit_audit_records_p201903"}) {
		t.Fatalf("second purge %+v", res)
	}
	write(wa, "p-new")
	wa.Close(ctx)
	wb.Close(ctx)
	got := verify(t, pool, key)
	for _, s := range got.Streams {
		if s.StartSeq == 0 {
			t.Fatalf("stream %s not anchored after purge: %+v", s.Stream, s)
		}
	}

	// A global hold stops every purge.
	if err := pgaudit.PlaceHold(ctx, pool, "all", "", "investigation"); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	if res, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk, DryRun: true}); err != nil || len(res.Partitions) != 0 {
		t.Fatalf("global hold: %+v %v", res, err)
	}
}

// The SQL function refuses what the Go side would never ask: recent
// partitions, and partitions that leave an older one behind.
func TestPurgeFunctionRefuses(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2019, 1, 10, 0, 0, 0, 0, time.UTC))
	w := open(t, pool, pgaudit.Options{Stream: "api-a", Signer: key, Clock: clk})
	if err := w.Write(ctx, ev(0, "p")); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"within retention": `SELECT hipaakit_audit_purge(now(), ARRAY['hipaakit_audit_records_p201901'], '1 second')`,
		"db clock":         `SELECT hipaakit_audit_purge('2019-03-01', ARRAY['hipaakit_audit_records_p201901'], '100 years')`,
		"gap":              `SELECT hipaakit_audit_purge('2019-04-01', ARRAY['hipaakit_audit_records_p201902'], '1 day')`,
	}
	for name, stmt := range cases {
		_, err := pool.Exec(ctx, stmt)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := partitionNames(t, pool); got[0] != "hipaakit_audit_records_p201901" {
		t.Fatalf("partitions %v", got)
	}
	if _, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Clock: clk}); !errors.Is(err, pgaudit.ErrOptions) {
		t.Fatalf("no signer: %v", err)
	}
}

// A decommissioned instance's stream (its writer closed for good) gets a
// retention_purge record at every purge; a signed checkpoint must cover
// it, or verification with RequireSealed fails after every purge.
// Back-dated events written recently are never purged, and a retention
// below six calendar years is refused without the named override.
func TestPurgeSealsStreamsWithoutWriterAndDecidesByWriteTime(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2019, 1, 10, 12, 0, 0, 0, time.UTC))
	gone := open(t, pool, pgaudit.Options{Stream: "api-gone", Signer: key, Clock: clk})
	for i := range 3 {
		e := ev(i, "p-old")
		e.Time = time.Time{}
		if err := gone.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := gone.Close(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2025, 4, 20, 0, 0, 0, 0, time.UTC))
	recent := open(t, pool, pgaudit.Options{Stream: "api-new", Signer: key, Clock: clk})
	for i := range 3 {
		e := ev(i, "p-backdated")
		e.Time = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC) // the caller claims 2010
		if err := recent.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := recent.Close(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk, Retention: 24 * time.Hour}); !errors.Is(err, audit.ErrRetentionTooShort) {
		t.Fatalf("a one-day retention was accepted: %v", err)
	}
	res, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Partitions) == 0 || res.Partitions[0] != "hipaakit_audit_records_p201901" || slices.Contains(res.Partitions, "hipaakit_audit_records_p202504") ||
		len(res.Boundaries) != 1 || res.Boundaries[0].Stream != "api-gone" {
		t.Fatalf("purge %+v", res)
	}
	opts := audit.VerifyOptions{Keys: mustKeySet(t, pub(key)), RequireSealed: true}
	if _, err := pgaudit.NewStore(pool).Verify(ctx, opts); err != nil {
		t.Fatalf("the trail is unsealed after the purge: %v", err)
	}
	// the back-dated records, written in 2025, are all still there
	p, err := audit.Query(ctx, pgaudit.NewStore(pool), audit.Filter{Subject: "p-backdated"})
	if err != nil || len(p.Records) != 3 {
		t.Fatalf("back-dated records: %v %d", err, len(p.Records))
	}
	// and a short retention purges only with the named override
	clk.Set(time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC))
	if _, err := pgaudit.Purge(ctx, pool, pgaudit.PurgeOptions{Signer: key, Clock: clk, Retention: 24 * time.Hour,
		AllowRetentionBelowSixYears: true, DryRun: true}); err != nil {
		t.Fatalf("override: %v", err)
	}
}
