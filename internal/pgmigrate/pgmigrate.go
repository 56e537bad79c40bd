// Package pgmigrate applies a component's embedded SQL migrations to a
// PostgreSQL database, once each, in order, under an advisory lock of the
// schema, so that several instances (and several components) starting at
// once on one schema, even an empty one, apply each migration exactly once
// and never fail one another.
//
// A component (for example "phi_keystore" or "audit") keeps files named
// NNNN_description.sql in an embed.FS. Applied versions are recorded in the
// table hipaakit_migrations in the connection's current schema. A migration
// runs in one transaction together with its bookkeeping row, so a failed
// migration leaves nothing half-applied.
package pgmigrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one numbered SQL script.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load reads the NNNN_name.sql files of dir in fsys, sorted by version.
// Versions must be unique and start at 1 without gaps.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("pgmigrate: read %s: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgmigrate: %s: name must be NNNN_description.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("pgmigrate: read %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("pgmigrate: %s: expected version %d (versions start at 1, no gaps or repeats)", m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("pgmigrate: no migrations in " + dir)
	}
	return ms, nil
}

// lockSQL takes the transaction-level advisory lock of the connection's
// current schema. It is one lock for every component, so that creating the
// bookkeeping table and applying migrations of different components never
// interleave; it is released when the transaction ends, also when the
// connection dies, so a crashed migrator never blocks the others.
const lockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('hipaakit/pgmigrate/' || coalesce(current_schema(), ''), 0))`

// Apply applies to the pool's current schema every migration of component
// that is not yet recorded, and returns how many it applied. Each migration
// runs in its own transaction under the schema's migration lock, together
// with its bookkeeping row, and re-reads the recorded version first, so
// several processes applying at once apply each migration exactly once.
func Apply(ctx context.Context, pool *pgxpool.Pool, component string, ms []Migration) (int, error) {
	applied := 0
	for {
		did, err := applyNext(ctx, pool, component, ms)
		if err != nil {
			return applied, err
		}
		if !did {
			return applied, nil
		}
		applied++
	}
}

// applyNext applies the first migration of component not yet recorded, if
// any, and reports whether it did.
func applyNext(ctx context.Context, pool *pgxpool.Pool, component string, ms []Migration) (applied bool, err error) {
	step := "lock"
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSQL); err != nil {
			return err
		}
		step = "bookkeeping table"
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS hipaakit_migrations (
			component  text        NOT NULL,
			version    integer     NOT NULL,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (component, version))`); err != nil {
			return err
		}
		step = "read version"
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM hipaakit_migrations WHERE component = $1", component).Scan(&current); err != nil {
			return err
		}
		if current > len(ms) {
			step = ""
			return fmt.Errorf("pgmigrate: %s: database is at version %d, newer than this code knows (%d)", component, current, len(ms))
		}
		if current == len(ms) {
			return nil
		}
		m := ms[current]
		step = "migration " + m.Name
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO hipaakit_migrations (component, version, name) VALUES ($1, $2, $3)", component, m.Version, m.Name); err != nil {
			return err
		}
		applied = true
		return nil
	})
	switch {
	case err == nil:
		return applied, nil
	case step == "":
		return false, err
	default:
		return false, fmt.Errorf("pgmigrate: %s: %s: %w", component, step, err)
	}
}

// Run loads the migrations in dir of fsys and applies them for component: the
// whole Migrate function of a package with embedded migrations. Errors are
// prefixed with prefix (the calling package's name).
func Run(ctx context.Context, pool *pgxpool.Pool, prefix, component string, fsys fs.FS, dir string) error {
	ms, err := Load(fsys, dir)
	if err == nil {
		_, err = Apply(ctx, pool, component, ms)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return nil
}
