package pgretention

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/internal/pgmigrate"
	"github.com/hipaakit/hipaakit/retention"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate creates or upgrades the tables in the pool's current schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := pgmigrate.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	if _, err := pgmigrate.Apply(ctx, pool, "retention", ms); err != nil {
		return fmt.Errorf("pgretention: %w", err)
	}
	return nil
}

// HoldStore is a retention.HoldStore in PostgreSQL.
type HoldStore struct {
	pool *pgxpool.Pool
}

var _ retention.HoldStore = (*HoldStore)(nil)

// NewHoldStore returns a HoldStore over pool (after Migrate).
func NewHoldStore(pool *pgxpool.Pool) *HoldStore { return &HoldStore{pool: pool} }

// Create implements retention.HoldStore.
func (s *HoldStore) Create(ctx context.Context, h retention.Hold) error {
	if h.ID == "" || (h.Subject == "" && h.Kind == "") || !h.Active() {
		return retention.ErrInvalidHold
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO hipaakit_legal_holds (id, subject, kind, reason, set_by, set_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		h.ID, h.Subject, h.Kind, h.Reason, h.SetBy, h.SetAt.UTC())
	if err != nil {
		return fmt.Errorf("pgretention: create hold: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return retention.ErrHoldExists
	}
	return nil
}

const holdColumns = `id, subject, kind, reason, set_by, set_at, lifted_by, lifted_at, lift_reason`

func scanHold(row pgx.Row) (retention.Hold, error) {
	var h retention.Hold
	var lifted *time.Time
	if err := row.Scan(&h.ID, &h.Subject, &h.Kind, &h.Reason, &h.SetBy, &h.SetAt, &h.LiftedBy, &lifted, &h.LiftReason); err != nil {
		return h, err
	}
	h.SetAt = h.SetAt.UTC()
	if lifted != nil {
		h.LiftedAt = lifted.UTC()
	}
	return h, nil
}

// Lift implements retention.HoldStore.
func (s *HoldStore) Lift(ctx context.Context, id, by, reason string, at time.Time) (retention.Hold, error) {
	h, err := scanHold(s.pool.QueryRow(ctx, `UPDATE hipaakit_legal_holds
		SET lifted_by = $2, lifted_at = $3, lift_reason = $4
		WHERE id = $1 AND lifted_at IS NULL RETURNING `+holdColumns, id, by, at.UTC(), reason))
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return retention.Hold{}, fmt.Errorf("pgretention: lift hold: %w", err)
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hipaakit_legal_holds WHERE id = $1)`, id).Scan(&exists); err != nil {
		return retention.Hold{}, fmt.Errorf("pgretention: lift hold: %w", err)
	}
	if exists {
		return retention.Hold{}, retention.ErrHoldLifted
	}
	return retention.Hold{}, retention.ErrHoldNotFound
}

// List implements retention.HoldStore.
func (s *HoldStore) List(ctx context.Context) ([]retention.Hold, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+holdColumns+` FROM hipaakit_legal_holds ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("pgretention: list holds: %w", err)
	}
	defer rows.Close()
	out := []retention.Hold{}
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("pgretention: list holds: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgretention: list holds: %w", err)
	}
	return out, nil
}

// SweepState is a retention.SweepState in PostgreSQL.
type SweepState struct {
	pool *pgxpool.Pool
	name string
}

var _ retention.SweepState = (*SweepState)(nil)

// NewSweepState returns the state of the sweep called name (for example
// "default"; give each independently swept Source its own name).
func NewSweepState(pool *pgxpool.Pool, name string) *SweepState {
	return &SweepState{pool: pool, name: name}
}

// lockKey derives the advisory-lock key from the schema and sweep name, so
// that sweeps in different schemas of one database do not exclude each
// other.
const lockKey = `hashtextextended('hipaakit/retention/sweep/' || current_schema() || '/' || $1, 0)`

// Lock implements retention.SweepState.
func (s *SweepState) Lock(ctx context.Context) (func() error, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgretention: acquire connection: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey+`)`, s.name).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("pgretention: lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, retention.ErrSweepRunning
	}
	released := false
	return func() error {
		if released {
			return nil
		}
		released = true
		defer conn.Release()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`, s.name); err != nil {
			// Close the session so the server drops the lock with it.
			conn.Conn().Close(ctx)
			return fmt.Errorf("pgretention: unlock: %w", err)
		}
		return nil
	}, nil
}

// Cursor implements retention.SweepState.
func (s *SweepState) Cursor(ctx context.Context) (string, error) {
	var after string
	err := s.pool.QueryRow(ctx, `SELECT after FROM hipaakit_retention_sweeps WHERE name = $1`, s.name).Scan(&after)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pgretention: read cursor: %w", err)
	}
	return after, nil
}

// SetCursor implements retention.SweepState.
func (s *SweepState) SetCursor(ctx context.Context, after string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO hipaakit_retention_sweeps (name, after, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (name) DO UPDATE SET after = EXCLUDED.after, updated_at = now()`, s.name, after)
	if err != nil {
		return fmt.Errorf("pgretention: write cursor: %w", err)
	}
	return nil
}
