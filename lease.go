package hipaakit

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/internal/pgmigrate"
)

// Leases. On PostgreSQL every write stream of a process (its audit stream
// and its ledger stream, both named after the instance ID) is held under a
// lease in hipaakit_stream_leases. Open takes the leases only after every
// start-up check has passed and before the writers claim their streams; a
// lease held unexpired by another process stops the start with a
// *StreamHeldError, and an expired one (its holder crashed or hung) is
// taken over. The holder renews its leases every LeaseTTL/3; a lease that
// could not be renewed within LeaseTTL, or was taken over, makes Ready
// fail, so that a load balancer stops sending the process traffic.
//
// Expiry times come from the deployment's clock: the replicas' clocks must
// agree to well within LeaseTTL (NTP does).

// DefaultLeaseTTL is Config.LeaseTTL's default.
const DefaultLeaseTTL = 30 * time.Second

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrate creates the root package's own tables (the stream leases).
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmigrate.Run(ctx, pool, "hipaakit", "hipaakit", migrationFS, "migrations")
}

var (
	// ErrStreamHeld reports a write stream leased by another live process;
	// the *StreamHeldError that carries it names the stream and the holder.
	ErrStreamHeld = errors.New("hipaakit: stream held by another live process")
	// ErrNotReady reports a deployment that must not receive traffic: a
	// stream lease lost or not renewed, an audit writer failed, or the
	// database unreachable.
	ErrNotReady = errors.New("hipaakit: not ready")
)

// StreamHeldError is a start refused because another process holds one of
// its streams. errors.Is(err, ErrStreamHeld) holds.
type StreamHeldError struct {
	Stream   string    // the stream
	Instance string    // the holder's instance ID
	Expires  time.Time // when the holder's lease ends unless renewed
}

func (e *StreamHeldError) Error() string {
	return fmt.Sprintf("hipaakit: stream %s is held by instance %s until %s; give each replica its own InstanceID "+
		"(or data directory), or wait for the lease to expire if that instance is gone",
		e.Stream, e.Instance, e.Expires.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrStreamHeld) hold.
func (e *StreamHeldError) Is(target error) bool { return target == ErrStreamHeld }

// leases are the stream leases of one process.
type leases struct {
	pool     *pgxpool.Pool
	owner    string // random per process
	instance string
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex
	streams []string
	renewed time.Time // last renewal of every stream
	lost    error     // set once a lease was taken over
}

func newLeases(pool *pgxpool.Pool, instance string, ttl time.Duration, now func() time.Time) *leases {
	tok := make([]byte, 16)
	_, _ = rand.Read(tok) // crypto/rand.Read never fails
	return &leases{pool: pool, owner: hex.EncodeToString(tok), instance: instance, ttl: ttl, now: now}
}

// acquire takes the lease of stream, or fails with *StreamHeldError.
func (l *leases) acquire(ctx context.Context, stream string) error {
	now := l.now().UTC()
	var owner string
	err := l.pool.QueryRow(ctx, `INSERT INTO hipaakit_stream_leases AS l (stream, owner, instance, acquired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (stream) DO UPDATE SET owner = EXCLUDED.owner, instance = EXCLUDED.instance,
			acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
		WHERE l.expires_at <= $4 OR l.owner = EXCLUDED.owner
		RETURNING l.owner`, stream, l.owner, l.instance, now, now.Add(l.ttl)).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		held := &StreamHeldError{Stream: stream}
		if err := l.pool.QueryRow(ctx, `SELECT instance, expires_at FROM hipaakit_stream_leases WHERE stream = $1`, stream).
			Scan(&held.Instance, &held.Expires); err != nil {
			return fmt.Errorf("hipaakit: read the lease of stream %s: %w", stream, err)
		}
		return held
	}
	if err != nil {
		return fmt.Errorf("hipaakit: lease stream %s: %w", stream, err)
	}
	l.mu.Lock()
	l.streams = append(l.streams, stream)
	l.renewed = now
	l.mu.Unlock()
	return nil
}

// renew extends every lease this process holds. A lease found taken over
// is lost for good (Ready fails until the process restarts); a failed
// renewal leaves the leases to expire.
func (l *leases) renew(ctx context.Context) error {
	l.mu.Lock()
	streams, lost := append([]string(nil), l.streams...), l.lost
	l.mu.Unlock()
	if lost != nil || len(streams) == 0 {
		return lost
	}
	now := l.now().UTC()
	tag, err := l.pool.Exec(ctx, `UPDATE hipaakit_stream_leases SET expires_at = $3
		WHERE stream = ANY($1) AND owner = $2`, streams, l.owner, now.Add(l.ttl))
	if err != nil {
		return fmt.Errorf("hipaakit: renew the stream leases: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(tag.RowsAffected()) != len(streams) {
		l.lost = fmt.Errorf("%w: a stream lease of instance %s was taken over by another process", ErrNotReady, l.instance)
		return l.lost
	}
	l.renewed = now
	return nil
}

// check reports whether every lease is held and was renewed within the
// TTL.
func (l *leases) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	if age := l.now().Sub(l.renewed); age >= l.ttl {
		return fmt.Errorf("%w: the stream leases of instance %s were last renewed %s ago (lease %s)",
			ErrNotReady, l.instance, age.Round(time.Second), l.ttl)
	}
	return nil
}

// release ends the leases (at Close, after the writers sealed their
// streams), so that a successor need not wait for them to expire.
func (l *leases) release() error {
	l.mu.Lock()
	streams := l.streams
	l.streams = nil
	l.mu.Unlock()
	if len(streams) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.pool.Exec(ctx, `DELETE FROM hipaakit_stream_leases WHERE stream = ANY($1) AND owner = $2`, streams, l.owner)
	if err != nil {
		return fmt.Errorf("hipaakit: release the stream leases: %w", err)
	}
	return nil
}

// startHeartbeat renews the leases every TTL/3 until Close.
func (d *Deployment) startHeartbeat() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(d.leases.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rctx, rcancel := context.WithTimeout(ctx, d.leases.ttl/3)
				if err := d.leases.renew(rctx); err != nil && ctx.Err() == nil {
					d.Logger.Error("hipaakit: stream lease", "err", err)
				}
				rcancel()
			}
		}
	})
	d.closers = append(d.closers, func() error {
		cancel()
		wg.Wait()
		return nil
	})
}
