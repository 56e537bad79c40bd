package pgaudit_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

// together runs fn(i) for i in [0, n) in goroutines released at once by a
// barrier and returns their errors.
func together(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	wg.Wait()
	return errs
}

// instancePools returns n pools on one new, empty schema: n processes of
// one deployment.
func instancePools(t *testing.T, n int) []*pgxpool.Pool {
	t.Helper()
	_, schema := hipaakittest.PostgresSchema(t)
	pools := make([]*pgxpool.Pool, n)
	for i := range pools {
		pools[i] = hipaakittest.PostgresPool(t, schema)
	}
	return pools
}

// N instances starting at once on an empty schema (migrate, open a writer,
// write) all start: no "relation ... already exists".
func TestInstancesStartTogetherOnEmptySchema(t *testing.T) {
	const n = 6
	pools := instancePools(t, n)
	key := newKey(t)
	ctx := context.Background()
	writers := make([]*pgaudit.Writer, n)
	errs := together(n, func(i int) error {
		if err := pgaudit.Migrate(ctx, pools[i]); err != nil {
			return err
		}
		w, err := pgaudit.Open(ctx, pools[i], pgaudit.Options{Stream: fmt.Sprintf("api-%d", i), Signer: key})
		if err != nil {
			return err
		}
		writers[i] = w
		return w.Write(ctx, ev(i, "s1"))
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	for _, w := range writers {
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	res := verify(t, pools[0], key)
	if got := records(res); got != n || len(res.Streams) != n {
		t.Fatalf("verified %d records in %d streams, want %d in %d", got, len(res.Streams), n, n)
	}
}

// Writers of several instances crossing a month boundary at once (the
// clock at the last second of a month, then the first of the next, which
// makes every writer create the partition beyond its window) all succeed.
func TestWritersCrossMonthBoundaryTogether(t *testing.T) {
	const n, each = 5, 4
	pools := instancePools(t, n)
	ctx := context.Background()
	if err := pgaudit.Migrate(ctx, pools[0]); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC))
	key := newKey(t)
	writers := make([]*pgaudit.Writer, n)
	for i := range writers {
		writers[i] = open(t, pools[i], pgaudit.Options{Stream: fmt.Sprintf("api-%d", i), Signer: key, Clock: clk})
	}
	// The writers hold partitions January to April (PartitionsAhead 3);
	// the first commit logged in April creates May to July.
	lastSecond := time.Date(2027, 3, 31, 23, 59, 59, 0, time.UTC)
	for _, at := range []time.Time{lastSecond, lastSecond.Add(time.Second)} {
		clk.Set(at)
		errs := together(n*each, func(i int) error {
			e := ev(i, "s1")
			e.Time = at
			return writers[i%n].Write(ctx, e)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("write %d at %s: %v", i, at.Format(time.RFC3339), err)
			}
		}
	}
	for _, w := range writers {
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var april, parts int
	if err := pools[0].QueryRow(ctx, `SELECT (SELECT count(*) FROM hipaakit_audit_records_p202704),
		(SELECT count(*) FROM pg_inherits WHERE inhparent = 'hipaakit_audit_records'::regclass)`).Scan(&april, &parts); err != nil {
		t.Fatal(err)
	}
	if april != n*each || parts != 7 {
		t.Fatalf("April holds %d records, want %d; %d partitions, want 7 (January to July)", april, n*each, parts)
	}
	if got := records(verify(t, pools[0], key)); got != 2*n*each {
		t.Fatalf("verified %d records, want %d", got, 2*n*each)
	}
}

// records counts the records of every stream in res.
func records(res audit.Result) int64 {
	var n int64
	for _, s := range res.Streams {
		n += s.Records
	}
	return n
}

// Verification under continuous write load never reports tampering: Verify
// (and a verified export, the path of "hipaakit audit export") reads the
// heads and the records of one snapshot.
func TestVerifyUnderWriteLoadReportsNoTampering(t *testing.T) {
	const writers, rounds = 3, 12
	pools := instancePools(t, writers+1)
	ctx := context.Background()
	if err := pgaudit.Migrate(ctx, pools[0]); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	ws := make([]*pgaudit.Writer, writers)
	for i := range ws {
		ws[i] = open(t, pools[i], pgaudit.Options{Stream: fmt.Sprintf("api-%d", i), Signer: key, CheckpointEvery: 7})
	}
	stop := make(chan struct{})
	var written atomic.Int64 // events acknowledged by all writers
	var wg, start sync.WaitGroup
	start.Add(1)
	writeErrs := make([]error, writers)
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := ws[i].Write(ctx, ev(n, "s1")); err != nil {
					writeErrs[i] = err
					return
				}
				written.Add(1)
			}
		}()
	}
	start.Done()
	st := pgaudit.NewStore(pools[writers])
	opts := audit.VerifyOptions{Keys: mustKeySet(t, pub(key))}
	var failures []string
	// At least rounds verifications, and on until the writers have written
	// while they ran (a loaded machine can starve the writers for a while):
	// the check is about verifying under load, so the load must happen.
	r := 0
	for ; r < rounds || written.Load() < writers*rounds; r++ {
		if r == 100*rounds {
			t.Fatalf("after %d verification rounds only %d events were written: the load did not run", r, written.Load())
		}
		if _, err := st.Verify(ctx, opts); err != nil {
			failures = append(failures, fmt.Sprintf("round %d: Verify: %v", r, err))
		}
		if _, err := audit.Export(ctx, io.Discard, audit.VerifiedSearcher(st.Entries, opts), audit.Filter{}, audit.ExportJSONL); err != nil {
			failures = append(failures, fmt.Sprintf("round %d: verified export: %v", r, err))
		}
	}
	close(stop)
	wg.Wait()
	for i, err := range writeErrs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d verifications under load failed:\n%s", len(failures), 2*r, strings.Join(failures, "\n"))
	}
	for _, w := range ws {
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := records(verify(t, pools[0], key)); got != written.Load() {
		t.Fatalf("verified %d records after the load, want %d", got, written.Load())
	}
}
