package pgbreach

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Component is the migration component name.
const Component = "breach"

// Migrate creates or upgrades the tables in the pool's current schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgmigrate.Run(ctx, pool, "breach/pgbreach", Component, migrations, "migrations")
}

// Config configures a Store. Its zero value is the default.
type Config struct{}

// Store is a breach.Store in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ breach.Store = (*Store)(nil)

// New returns the store over pool (Migrate first).
func New(pool *pgxpool.Pool, _ Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("breach/pgbreach: a pool is required")
	}
	return &Store{pool: pool}, nil
}

// Append implements breach.Store.
func (s *Store) Append(ctx context.Context, e breach.Entry) error {
	line, err := e.Marshal()
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO breach_entries (incident, seq, line)
		SELECT $1::text, $2::bigint, $3::text
		WHERE (SELECT coalesce(max(seq), 0) FROM breach_entries WHERE incident = $1::text) = $2::bigint - 1`,
		e.Incident, int64(e.Seq), string(line))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return breach.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("breach/pgbreach: append to incident %s: %w", e.Incident, err)
	}
	if tag.RowsAffected() != 1 {
		return breach.ErrConflict
	}
	return nil
}

// Entries implements breach.Store.
func (s *Store) Entries(ctx context.Context, id string) ([]breach.Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, line FROM breach_entries WHERE incident = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("breach/pgbreach: read incident: %w", err)
	}
	defer rows.Close()
	var out []breach.Entry
	for rows.Next() {
		var seq int64
		var line string
		if err := rows.Scan(&seq, &line); err != nil {
			return nil, fmt.Errorf("breach/pgbreach: read incident: %w", err)
		}
		e, err := breach.ParseEntry([]byte(line))
		if err == nil && (e.Incident != id || int64(e.Seq) != seq) {
			err = &breach.EntryError{Incident: id, Seq: uint64(seq), Reason: "row key does not match its line", Err: breach.ErrMalformed}
		}
		if err != nil {
			return nil, fmt.Errorf("breach/pgbreach: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("breach/pgbreach: read incident: %w", err)
	}
	if len(out) == 0 {
		return nil, breach.ErrNotFound
	}
	if _, err := breach.Fold(out); err != nil {
		return nil, fmt.Errorf("breach/pgbreach: incident %s: %w", id, err)
	}
	return out, nil
}

// IDs implements breach.Store.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT incident FROM breach_entries ORDER BY incident`)
	if err != nil {
		return nil, fmt.Errorf("breach/pgbreach: list incidents: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("breach/pgbreach: list incidents: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("breach/pgbreach: list incidents: %w", err)
	}
	return ids, nil
}
