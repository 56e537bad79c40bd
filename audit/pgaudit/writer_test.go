package pgaudit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
)

var t0 = time.Date(2026, 2, 3, 4, 5, 6, 789, time.UTC)

func newKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func setup(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := hipaakittest.Postgres(t)
	if err := pgaudit.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

func open(t testing.TB, pool *pgxpool.Pool, opts pgaudit.Options) *pgaudit.Writer {
	t.Helper()
	w, err := pgaudit.Open(context.Background(), pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

func ev(i int, subject string) audit.Event {
	return audit.Event{
		Time: t0.Add(time.Duration(i) * time.Second), Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
		Actor:  audit.Actor{UserID: fmt.Sprintf("u-%d", i%5), Role: "nurse"},
		Origin: audit.Origin{Channel: audit.ChannelAPI, Route: "GET /patients/{id}"},
		Target: audit.Target{RecordType: "patient", RecordID: "r-" + subject, Subject: subject},
		Change: &audit.Change{New: []byte{1, 2, 3}},
	}
}

func verify(t testing.TB, pool *pgxpool.Pool, keys ...ed25519.PrivateKey) audit.Result {
	t.Helper()
	var pubs []ed25519.PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.Public().(ed25519.PublicKey))
	}
	res, err := pgaudit.NewStore(pool).Verify(context.Background(), audit.VerifyOptions{Keys: mustKeySet(t, pubs...)})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func TestMigrateTwice(t *testing.T) {
	pool := setup(t)
	if err := pgaudit.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWritesVerifyAndSearch(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, CheckpointEvery: 50})
	const n, workers = 400, 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += workers {
				errs <- w.Write(context.Background(), ev(i, fmt.Sprintf("p-%d", i%7)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := verify(t, pool, key)
	if len(res.Streams) != 1 || res.Streams[0].Records != n || res.Streams[0].Checkpoints < 2 || res.Streams[0].Unsealed != 0 {
		t.Fatalf("%+v", res)
	}

	// Paginate one patient's records through the Store and compare with
	// the same filter over the records in memory.
	store := pgaudit.NewStore(pool)
	var all []audit.Record
	for r, err := range store.Search(context.Background(), audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	if len(all) != n {
		t.Fatalf("search all: %d", len(all))
	}
	f := audit.Filter{Subject: "p-3", Actions: []audit.Action{audit.ActionRead}, Since: t0.Add(10 * time.Second), Limit: 7}
	want, err := audit.Query(context.Background(), audit.MemorySearcher(all), audit.Filter{Subject: f.Subject, Since: f.Since, Limit: audit.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.Record
	for {
		p, err := audit.Query(context.Background(), store, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Records...)
		if p.Next.IsZero() {
			break
		}
		f.After = p.Next
	}
	if len(got) != len(want.Records) || len(got) == 0 {
		t.Fatalf("paged %d records, want %d", len(got), len(want.Records))
	}
	for i := range got {
		if got[i].Seq != want.Records[i].Seq || got[i].Hash != want.Records[i].Hash {
			t.Fatalf("record %d differs", i)
		}
	}
}

// Two application instances on one database, each with its own stream,
// write at the same time; both chains verify.
func TestTwoWritersOneDatabase(t *testing.T) {
	pool, schema := hipaakittest.PostgresSchema(t)
	if err := pgaudit.Migrate(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	// A second pool (its own connections) stands for the second instance.
	cfg, err := pgxpool.ParseConfig(hipaakittest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool2, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	if err := pgaudit.Migrate(context.Background(), pool2); err != nil { // a second Migrate is a no-op
		t.Fatal(err)
	}
	w1 := open(t, pool, pgaudit.Options{Stream: "api-a", Signer: key})
	w2 := open(t, pool2, pgaudit.Options{Stream: "api-b", Signer: key})
	var wg sync.WaitGroup
	for _, w := range []*pgaudit.Writer{w1, w2, w1, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if err := w.Write(context.Background(), ev(i, "p")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	w1.Close(context.Background())
	w2.Close(context.Background())
	res := verify(t, pool, key)
	if len(res.Streams) != 2 || res.Streams[0].Records != 100 || res.Streams[1].Records != 100 {
		t.Fatalf("%+v", res)
	}
}

// Two writers claiming one stream: the older loses loudly, nothing of it
// is stored after the takeover, and the chain verifies.
func TestSameStreamConflictsLoudly(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	w1 := open(t, pool, pgaudit.Options{Stream: "api-x", Signer: key})
	if err := w1.Write(context.Background(), ev(1, "p")); err != nil {
		t.Fatal(err)
	}
	w2 := open(t, pool, pgaudit.Options{Stream: "api-x", Signer: key})
	if err := w1.Write(context.Background(), ev(2, "p")); !errors.Is(err, pgaudit.ErrStreamConflict) {
		t.Fatalf("old writer: %v", err)
	}
	if err := w1.Write(context.Background(), ev(3, "p")); !errors.Is(err, pgaudit.ErrStreamConflict) {
		t.Fatalf("old writer stays failed: %v", err)
	}
	if err := w2.Write(context.Background(), ev(4, "p")); err != nil {
		t.Fatal(err)
	}
	w2.Close(context.Background())
	res := verify(t, pool, key)
	if res.Streams[0].Records != 2 || res.Streams[0].LastSeq != 2 {
		t.Fatalf("%+v", res)
	}
}

func TestInvalidEventFailsAlone(t *testing.T) {
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t)})
	bad := ev(1, "p")
	bad.Action = "Not An Action"
	var wg sync.WaitGroup
	var badErr, goodErr error
	wg.Add(2)
	go func() { defer wg.Done(); badErr = w.Write(context.Background(), bad) }()
	go func() { defer wg.Done(); goodErr = w.Write(context.Background(), ev(2, "p")) }()
	wg.Wait()
	if !errors.Is(badErr, audit.ErrInvalidEvent) || goodErr != nil {
		t.Fatalf("bad: %v, good: %v", badErr, goodErr)
	}
}

func TestFailsClosedWhenDatabaseGone(t *testing.T) {
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t), CommitTimeout: 2 * time.Second})
	if err := w.Write(context.Background(), ev(1, "p")); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	err := w.Write(context.Background(), ev(2, "p"))
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("write after the database went away: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Write(ctx, ev(3, "p")); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestWriteAfterClose(t *testing.T) {
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t)})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), ev(1, "p")); !errors.Is(err, audit.ErrClosed) {
		t.Fatal(err)
	}
}

func TestOptionsValidation(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	for name, o := range map[string]pgaudit.Options{
		"no stream":  {Signer: key},
		"bad stream": {Stream: "a b", Signer: key},
		"no signer":  {Stream: "s"},
		"negative":   {Stream: "s", Signer: key, MaxBatch: -1},
		"duration":   {Stream: "s", Signer: key, FullTimeout: -time.Second},
	} {
		if _, err := pgaudit.Open(context.Background(), pool, o); !errors.Is(err, pgaudit.ErrOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAppendOnly(t *testing.T) {
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t), Clock: clock.NewFake(t0)})
	if err := w.Write(context.Background(), ev(1, "p")); err != nil {
		t.Fatal(err)
	}
	w.Close(context.Background())
	for _, stmt := range []string{
		"UPDATE hipaakit_audit_records SET subject = 'x'",
		"DELETE FROM hipaakit_audit_records",
		"TRUNCATE hipaakit_audit_records",
		"UPDATE hipaakit_audit_records_p202602 SET subject = 'x'",
		"DELETE FROM hipaakit_audit_records_p202602",
		"TRUNCATE hipaakit_audit_records_p202602",
		"DELETE FROM hipaakit_audit_checkpoints",
		"UPDATE hipaakit_audit_checkpoints SET seq = 0",
		"TRUNCATE hipaakit_audit_checkpoints",
		"DELETE FROM hipaakit_audit_purges",
	} {
		_, err := pool.Exec(context.Background(), stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", stmt, err)
		}
	}
}

func TestCheckpointSinkAndKeys(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	var mu sync.Mutex
	var sunk []audit.Checkpoint
	sink := audit.CheckpointSinkFunc(func(_ context.Context, c audit.Checkpoint) error {
		mu.Lock()
		defer mu.Unlock()
		sunk = append(sunk, c)
		return nil
	})
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, CheckpointEvery: 10, CheckpointSink: sink})
	for i := range 25 {
		if err := w.Write(context.Background(), ev(i, "p")); err != nil {
			t.Fatal(err)
		}
	}
	w.Close(context.Background())
	if len(sunk) < 3 || sunk[len(sunk)-1].Reason != audit.CheckpointClose || sunk[len(sunk)-1].Seq != 25 {
		t.Fatalf("sunk %+v", sunk)
	}
	// The sink's latest checkpoint is an expectation verification checks.
	res, err := pgaudit.NewStore(pool).Verify(context.Background(), audit.VerifyOptions{
		Keys: mustKeySet(t, key.Public().(ed25519.PublicKey)), Expect: sunk[len(sunk)-1:], RequireSealed: true})
	if err != nil || res.Streams[0].CheckpointSeq != 25 {
		t.Fatalf("%+v %v", res, err)
	}
	_, err = pgaudit.NewStore(pool).Verify(context.Background(), audit.VerifyOptions{
		Keys: mustKeySet(t, newKey(t).Public().(ed25519.PublicKey))})
	if !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("foreign key: %v", err)
	}
	// A failing sink fails the Writes it covers: no access without the
	// external anchor.
	w2 := open(t, pool, pgaudit.Options{Stream: "api-2", Signer: key, CheckpointEvery: 1,
		CheckpointSink: audit.CheckpointSinkFunc(func(context.Context, audit.Checkpoint) error { return errors.New("sink down") })})
	if err := w2.Write(context.Background(), ev(1, "p")); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("sink failure: %v", err)
	}
}

func TestShardedWriterVerifies(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, Shards: 3})
	if got := w.Streams(); fmt.Sprint(got) != "[api-1 api-1.s1 api-1.s2]" {
		t.Fatalf("streams %v", got)
	}
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if err := w.Write(context.Background(), ev(g*100+i, "p")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := verify(t, pool, key)
	var total int64
	for _, s := range res.Streams {
		total += s.Records
	}
	if len(res.Streams) != 3 || total != 300 {
		t.Fatalf("%+v", res)
	}
	if _, err := pgaudit.Open(context.Background(), pool, pgaudit.Options{Stream: strings.Repeat("x", 62), Signer: key, Shards: 12}); !errors.Is(err, pgaudit.ErrOptions) {
		t.Fatalf("long shard names: %v", err)
	}
}

// Event content never reaches error messages.
func TestErrorsDoNotLeakEventContent(t *testing.T) {
	const canary = "999-00-1234-CANARY"
	pool := setup(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: newKey(t), CommitTimeout: time.Second})
	e := ev(1, canary)
	e.Actor.UserID, e.Purpose, e.Target.RecordID = canary, canary, canary
	bad := e
	bad.Outcome = audit.Outcome(canary)
	err1 := w.Write(context.Background(), bad)
	pool.Close()
	err2 := w.Write(context.Background(), e)
	for _, err := range []error{err1, err2} {
		if err == nil || strings.Contains(err.Error(), canary) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), canary) {
			t.Fatalf("error %v", err)
		}
	}
	_, err := audit.Query(context.Background(), pgaudit.NewStore(pool), audit.Filter{Subject: canary})
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("search error %v", err)
	}
}

// Partitions follow the clock, and a partition missing when a batch
// commits is created and the batch retried.
func TestPartitionsFollowClock(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	clk := clock.NewFake(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC))
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, Clock: clk, PartitionsAhead: 3})
	write := func() {
		t.Helper()
		e := ev(0, "p")
		e.Time = time.Time{}
		if err := w.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if got := partitionNames(t, pool); fmt.Sprint(got) != "[hipaakit_audit_records_p202601 hipaakit_audit_records_p202602 hipaakit_audit_records_p202603 hipaakit_audit_records_p202604]" {
		t.Fatalf("partitions at open: %v", got)
	}
	clk.Set(time.Date(2026, 9, 3, 0, 0, 0, 0, time.UTC))
	write()
	if got := partitionNames(t, pool); !slices.Contains(got, "hipaakit_audit_records_p202609") || !slices.Contains(got, "hipaakit_audit_records_p202612") {
		t.Fatalf("partitions after the clock moved: %v", got)
	}
	// Someone drops next month's (empty) partition behind the writer's
	// back: the insert fails for want of a partition, and the writer
	// creates it and retries.
	if _, err := pool.Exec(context.Background(), "DROP TABLE hipaakit_audit_records_p202610"); err != nil {
		t.Fatal(err)
	}
	clk.Set(time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC))
	write()
	w.Close(context.Background())
	if res := verify(t, pool, key); res.Streams[0].Records != 3 {
		t.Fatalf("%+v", res)
	}
}

// While the database stalls, a full queue fails further Writes after
// FullTimeout (fail closed) instead of piling them up; once it recovers,
// the queued events commit.
func TestQueueFullFailsClosed(t *testing.T) {
	pool := setup(t)
	key := newKey(t)
	w := open(t, pool, pgaudit.Options{Stream: "api-1", Signer: key, QueueSize: 2, MaxBatch: 1,
		FullTimeout: 100 * time.Millisecond, CommitTimeout: 30 * time.Second})
	if err := w.Write(context.Background(), ev(0, "p")); err != nil {
		t.Fatal(err)
	}
	// Stall commits: hold the stream's head row.
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Release the row lock however the test ends: a failure below must not
	// leave the pool's cleanup waiting for this connection forever.
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, "SELECT 1 FROM hipaakit_audit_streams WHERE stream = 'api-1' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 3)
	for i := range 3 { // one in the stalled commit, two in the queue
		go func() { queued <- w.Write(ctx, ev(i+1, "p")) }()
	}
	// Probe until the queue is full; a probe that still finds room waits
	// for its (stalled) commit until its own deadline, and fills a slot.
	var full error
	// Bounded by time, not by tries: on a loaded machine the writers above
	// may take a while to reach the queue.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		full = w.Write(pctx, ev(9, "p"))
		cancel()
		if full != nil && strings.Contains(full.Error(), "queue full") {
			break
		}
	}
	if !errors.Is(full, audit.ErrUnavailable) || !strings.Contains(full.Error(), "queue full") {
		t.Fatalf("write into a full queue: %v", full)
	}
	tx.Rollback(ctx)
	acked := int64(1)
	for range 3 {
		switch err := <-queued; {
		case err == nil:
			acked++
		case !errors.Is(err, audit.ErrUnavailable): // the probes may have taken its place
			t.Fatal(err)
		}
	}
	w.Close(ctx)
	// Every acknowledged event is stored (a probe that gave up waiting may
	// be stored too: that errs on the side of the trail).
	if res := verify(t, pool, key); res.Streams[0].Records < acked {
		t.Fatalf("%d records, %d acknowledged", res.Streams[0].Records, acked)
	}
}
