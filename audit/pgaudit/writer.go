package pgaudit

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// Errors.
var (
	// ErrOptions reports unusable Options.
	ErrOptions = errors.New("pgaudit: invalid options")
	// ErrStreamConflict reports that another writer claimed this writer's
	// stream. The writer stores nothing more; every Write fails with it.
	ErrStreamConflict = errors.New("pgaudit: stream claimed by another writer")
)

// Options configure a Writer. Stream and Signer are required.
type Options struct {
	// Stream names this writer's chain; unique per application instance
	// (see the package doc). 1-64 ASCII letters, digits, '_', '.', '-'.
	Stream string
	// Signer signs checkpoints; it must be an ed25519 key
	// (ed25519.PrivateKey, or a crypto.Signer whose Public is an
	// ed25519.PublicKey, for example one held in a KMS or HSM).
	Signer crypto.Signer
	// CheckpointEvery is the number of records between checkpoints
	// (default 1000).
	CheckpointEvery int
	// CheckpointInterval is the longest time records stay without a
	// checkpoint (default 1 minute).
	CheckpointInterval time.Duration
	// CheckpointSink, if set, receives every checkpoint after it is stored.
	// When it fails, the Writes of the batch the checkpoint covers fail too
	// (their records are stored; the access is refused all the same).
	CheckpointSink audit.CheckpointSink
	// MaxBatch is the most events committed in one transaction (default 1024).
	MaxBatch int
	// QueueSize is how many Writes may wait for the next batch (default 8192).
	QueueSize int
	// FullTimeout is how long a Write waits for room in a full queue before
	// failing with audit.ErrUnavailable (default 2s).
	FullTimeout time.Duration
	// CommitTimeout bounds one commit (default 10s).
	CommitTimeout time.Duration
	// PartitionsAhead is how many monthly partitions beyond the current
	// month are kept created (default 3).
	PartitionsAhead int
	// Clock stamps events without a Time, checkpoints and logged_at.
	Clock clock.Clock
	// Shards is how many streams this writer appends to in parallel, each
	// with its own chain, transaction and connection (default 1). Streams
	// are named Stream, then Stream+".s1", Stream+".s2", ... A single
	// stream commits one transaction at a time, since each commit must
	// follow the previous one in its chain; several shards let PostgreSQL
	// flush their commits together. Events of one shard are in chain
	// order; across shards, Event.Time orders them.
	Shards int
}

func (o *Options) setDefaults() error {
	if !audit.ValidStream(o.Stream) {
		return errors.Join(ErrOptions, errors.New("pgaudit: Stream must be 1-64 ASCII letters, digits, '_', '.' or '-'"))
	}
	if o.Signer == nil {
		return errors.Join(ErrOptions, errors.New("pgaudit: Signer is required"))
	}
	if _, ok := o.Signer.Public().(ed25519.PublicKey); !ok {
		return errors.Join(ErrOptions, errors.New("pgaudit: Signer must be an ed25519 key"))
	}
	ints := []struct {
		v   *int
		def int
	}{{&o.CheckpointEvery, 1000}, {&o.MaxBatch, 1024}, {&o.QueueSize, 8192}, {&o.PartitionsAhead, 3}, {&o.Shards, 1}}
	for _, f := range ints {
		if *f.v < 0 {
			return errors.Join(ErrOptions, errors.New("pgaudit: negative size"))
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.Shards > maxShards || (o.Shards > 1 && !audit.ValidStream(shardName(o.Stream, o.Shards-1))) {
		return errors.Join(ErrOptions, errors.New("pgaudit: too many shards, or Stream too long for shard names"))
	}
	if o.PartitionsAhead > 24 {
		return errors.Join(ErrOptions, errors.New("pgaudit: PartitionsAhead above 24"))
	}
	durs := []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.CheckpointInterval, time.Minute}, {&o.FullTimeout, 2 * time.Second}, {&o.CommitTimeout, 10 * time.Second}}
	for _, f := range durs {
		if *f.v < 0 {
			return errors.Join(ErrOptions, errors.New("pgaudit: negative duration"))
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	o.Clock = clock.OrSystem(o.Clock)
	return nil
}

// maxShards bounds Options.Shards.
const maxShards = 64

func shardName(stream string, i int) string {
	if i == 0 {
		return stream
	}
	return stream + ".s" + strconv.Itoa(i)
}

// Writer appends events to the PostgreSQL audit trail with durable group
// commit, on one stream per shard (see Options.Shards). It is safe for
// concurrent use.
type Writer struct {
	shards []*streamWriter
	next   atomic.Uint64
}

var _ audit.Writer = (*Writer)(nil)

// Open claims the writer's streams (see the package doc), continuing each
// chain from its stored head, creates the partitions it needs and starts
// the committers. Migrate must have run. Close the Writer to store its
// final checkpoints.
func Open(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Writer, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	w := &Writer{}
	for i := range opts.Shards {
		o := opts
		o.Stream = shardName(opts.Stream, i)
		s, err := openStream(ctx, pool, o)
		if err != nil {
			_ = w.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		w.shards = append(w.shards, s)
	}
	return w, nil
}

// Streams returns the names of the writer's streams.
func (w *Writer) Streams() []string {
	out := make([]string, len(w.shards))
	for i, s := range w.shards {
		out[i] = s.opts.Stream
	}
	return out
}

// Write stores e and returns nil once the transaction holding it has
// committed. It fails with an error matching audit.ErrUnavailable when the
// database fails or the queue stays full past FullTimeout, with
// ErrStreamConflict after another writer claimed the stream, with
// audit.ErrInvalidEvent for an invalid event, and with audit.ErrClosed after
// Close.
func (w *Writer) Write(ctx context.Context, e audit.Event) error {
	if len(w.shards) == 1 {
		return w.shards[0].write(ctx, e)
	}
	// The shorter of two queues, in turn.
	i := w.next.Add(1)
	a, b := w.shards[i%uint64(len(w.shards))], w.shards[(i+1)%uint64(len(w.shards))]
	if len(b.reqs) < len(a.reqs) {
		a = b
	}
	return a.write(ctx, e)
}

// Close commits every queued event, stores a final checkpoint per stream
// and stops the writer. Later Writes fail with audit.ErrClosed.
func (w *Writer) Close(ctx context.Context) error {
	errs := make([]error, len(w.shards))
	var wg sync.WaitGroup
	for i, s := range w.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.close(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
