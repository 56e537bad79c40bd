package pgaudit

import (
	"context"
	"embed"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hipaakit/hipaakit/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// component names this package's migrations in hipaakit_migrations.
const component = "audit"

// Migrate creates or upgrades the audit schema in the pool's current schema
// (its search_path). It is safe to call from several instances at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := pgmigrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	_, err = pgmigrate.Apply(ctx, pool, component, ms)
	return err
}

// partitionLockSQL takes the schema's partition lock (migration 0002) to the
// end of the transaction; every path that creates or drops partitions holds
// it.
const partitionLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('hipaakit/audit/partitions/' || current_schema(), 0))`
