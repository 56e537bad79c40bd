package pgaudit_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
)

// runWriters performs b.N calls of write spread over n goroutines and
// reports durable events per second.
func runWriters(b *testing.B, n int, write func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := write(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

var benchWriters = []int{8, 64}

// BenchmarkAppend measures durable appends at 8 and 64 concurrent writers:
// each Write returns after the transaction holding its event committed.
// Beside each writer row, in the same run, is its baseline:
//
//   - writer: the PostgreSQL writer, one stream (one transaction in flight).
//   - writer-tree-off: the same writer without Merkle tree maintenance (the
//     figure before the tree).
//   - writer-4shards: the same over four streams (Options.Shards).
//   - baseline-copyfrom: raw pgx CopyFrom of the same rows (canonical lines
//     and derived columns computed beforehand) into a table of the same
//     shape and indexes, as they arrive: one collector copies whatever is
//     pending in one autocommit COPY and acknowledges each row after it
//     committed — group commit without chain, checkpoints or head.
func BenchmarkAppend(b *testing.B) {
	for _, n := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d/writer", n), func(b *testing.B) { benchWriter(b, n, 1) })
		b.Run(fmt.Sprintf("writers=%d/writer-tree-off", n), func(b *testing.B) {
			pgaudit.SetTreeOff(true)
			defer pgaudit.SetTreeOff(false)
			benchWriter(b, n, 1)
		})
		b.Run(fmt.Sprintf("writers=%d/baseline-copyfrom", n), func(b *testing.B) { benchBaseline(b, n) })
		b.Run(fmt.Sprintf("writers=%d/writer-4shards", n), func(b *testing.B) { benchWriter(b, n, 4) })
	}
}

func benchWriter(b *testing.B, n, shards int) {
	pool := setup(b)
	w, err := pgaudit.Open(context.Background(), pool, pgaudit.Options{Stream: "bench", Signer: newKey(b), Shards: shards})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(context.Background())
	runWriters(b, n, func(i int) error { return w.Write(context.Background(), ev(i, "p-bench")) })
}

func benchBaseline(b *testing.B, n int) {
	pool := setup(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE bench_raw (LIKE hipaakit_audit_records INCLUDING DEFAULTS INCLUDING INDEXES)"); err != nil {
		b.Fatal(err)
	}
	rows := baselineRows(b, b.N)
	c := newCopier(pool)
	defer c.close()
	runWriters(b, n, func(i int) error { return c.write(rows[i]) })
}

var rawColumns = []string{"stream", "seq", "logged_at", "time_s", "time_n", "action", "outcome", "subject", "actor_id", "record_type", "record_id", "hash", "line"}

func baselineRows(b *testing.B, n int) [][]any {
	c, err := audit.NewChain(audit.ChainConfig{Stream: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	rows := make([][]any, n)
	for i := range rows {
		line, r, err := c.AppendNext(nil, ev(i, "p-bench"))
		if err != nil {
			b.Fatal(err)
		}
		e := r.Event
		rows[i] = []any{r.Stream, int64(r.Seq), now, e.Time.Unix(), int32(e.Time.Nanosecond()), string(e.Action), string(e.Outcome),
			e.Target.Subject, e.Actor.UserID, e.Target.RecordType, e.Target.RecordID, r.Hash[:], line}
	}
	return rows
}

type copyReq struct {
	row  []any
	done chan error
}

type copier struct {
	pool *pgxpool.Pool
	reqs chan copyReq
	wg   sync.WaitGroup
}

func newCopier(pool *pgxpool.Pool) *copier {
	c := &copier{pool: pool, reqs: make(chan copyReq, 8192)}
	c.wg.Add(1)
	go c.run()
	return c
}

func (c *copier) write(row []any) error {
	r := copyReq{row: row, done: make(chan error, 1)}
	c.reqs <- r
	return <-r.done
}

func (c *copier) close() { close(c.reqs); c.wg.Wait() }

func (c *copier) run() {
	defer c.wg.Done()
	var batch []copyReq
	var rows [][]any
	for r := range c.reqs {
		batch, rows = append(batch[:0], r), append(rows[:0], r.row)
	drain:
		for len(batch) < 1024 {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break drain
				}
				batch, rows = append(batch, r), append(rows, r.row)
			default:
				break drain
			}
		}
		_, err := c.pool.CopyFrom(context.Background(), pgx.Identifier{"bench_raw"}, rawColumns, pgx.CopyFromRows(rows))
		for _, r := range batch {
			r.done <- err
		}
	}
}

// BenchmarkTreeOverhead measures what Merkle tree maintenance adds to the
// PostgreSQL writer at 64 writers, paired so that the machine's noise hits
// both sides alike: each iteration writes one round of 1024 events through
// a writer with the tree and one round through a writer of another stream
// without it (treeOff at open, the figure before the tree), in alternating
// order, on one pool. It reports both writers' ns/event over the run and
// tree-overhead-% = 100 × (median of the rounds' with/without ratios − 1).
// Target: at most 10.
func BenchmarkTreeOverhead(b *testing.B) {
	const writers, round = 64, 1024
	pool := setup(b)
	ctx := context.Background()
	key := newKey(b)
	with, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "bench-tree", Signer: key})
	if err != nil {
		b.Fatal(err)
	}
	defer with.Close(ctx)
	pgaudit.SetTreeOff(true)
	without, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "bench-notree", Signer: key})
	pgaudit.SetTreeOff(false)
	if err != nil {
		b.Fatal(err)
	}
	defer without.Close(ctx)
	runRound := func(w *pgaudit.Writer) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= round {
						return
					}
					if err := w.Write(ctx, ev(i, "p-bench")); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	runRound(with) // warm both writers and the pool
	runRound(without)
	var tWith, tWithout time.Duration
	var ratios []float64
	for b.Loop() {
		var a, o time.Duration
		if len(ratios)%2 == 0 {
			a = runRound(with)
			o = runRound(without)
		} else {
			o = runRound(without)
			a = runRound(with)
		}
		tWith, tWithout = tWith+a, tWithout+o
		ratios = append(ratios, float64(a)/float64(o))
	}
	slices.Sort(ratios)
	events := float64(len(ratios) * round)
	b.ReportMetric(float64(tWith.Nanoseconds())/events, "ns/event-tree")
	b.ReportMetric(float64(tWithout.Nanoseconds())/events, "ns/event-tree-off")
	b.ReportMetric(100*(ratios[len(ratios)/2]-1), "tree-overhead-%")
}
