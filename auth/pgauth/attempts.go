package pgauth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/auth"
)

// AttemptStore is an auth.AttemptStore in PostgreSQL (table auth_attempts,
// created by MigrateUsers), so that the throttles of client keys and
// unknown names are deployment-wide across replicas. Reserve is one
// transaction that locks the key's row, so parallel attempts on any
// replicas count one each.
type AttemptStore struct {
	pool *pgxpool.Pool
}

var _ auth.AttemptStore = (*AttemptStore)(nil)

// NewAttemptStore returns a store using pool.
func NewAttemptStore(pool *pgxpool.Pool) *AttemptStore { return &AttemptStore{pool: pool} }

// Reserve implements auth.AttemptStore.
func (s *AttemptStore) Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(int, time.Time) time.Duration) (time.Duration, error) {
	var w time.Duration
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO auth_attempts (key, count, last) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING`,
			key, time.Time{}.UTC()); err != nil {
			return err
		}
		var n int
		var last time.Time
		if err := tx.QueryRow(ctx, `SELECT count, last FROM auth_attempts WHERE key = $1 FOR UPDATE`, key).Scan(&n, &last); err != nil {
			return err
		}
		if n > 0 && now.Sub(last) >= forget {
			n, last = 0, time.Time{}
		}
		if n == 0 {
			last = time.Time{}
		}
		if w = wait(n, last); w > 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE auth_attempts SET count = $2, last = $3 WHERE key = $1`, key, n+1, now.UTC())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pgauth: attempt store: %w", err)
	}
	return w, nil
}

// Release implements auth.AttemptStore.
func (s *AttemptStore) Release(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE auth_attempts SET count = count - 1 WHERE key = $1 AND count > 0`, key); err != nil {
		return fmt.Errorf("pgauth: attempt store: %w", err)
	}
	return nil
}

// PurgeAttempts deletes the counts idle since before cutoff (they are
// forgotten anyway); run it now and then to bound the table.
func (s *AttemptStore) PurgeAttempts(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM auth_attempts WHERE last < $1`, cutoff.UTC())
	if err != nil {
		return 0, fmt.Errorf("pgauth: attempt store: %w", err)
	}
	return tag.RowsAffected(), nil
}
