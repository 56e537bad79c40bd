// Package pgsource backs up a PostgreSQL schema (all of its tables or a
// chosen few) into a backup.Repository and restores it into PostgreSQL,
// through github.com/jackc/pgx/v5.
//
// # What it guarantees
//
// Source reads everything — the DDL, every table's rows (streamed with
// COPY … TO STDOUT, never held in memory) and every sequence's value — in
// one REPEATABLE READ, READ ONLY transaction, so the backup is one
// consistent snapshot of the schema. Sink restores into a staging schema
// inside one transaction and renames it to the destination schema in the
// same transaction, so the destination holds either its old content or the
// complete restore, never a part; it refuses a destination schema that holds
// tables unless the restore is forced. Sink implements backup.Checker, so a
// restore drill re-reads every restored table and compares row counts and
// checksums with the manifest, and regenerates the DDL and compares it too.
//
// # What it leaves to the caller
//
// The objects it does not back up: views, functions, triggers, policies,
// grants, domains and composite types (enum types are backed up); a
// partition's own defaults and its statement triggers (e.g. those the
// audit/pgaudit migrations put on each month). Because functions and
// triggers are not restored while a migrations table (hipaakit_migrations)
// is, a restored audit/pgaudit schema lacks its append-only triggers and
// partition functions although its migrations table says they were applied:
// recreate them before writing to it. Restoring the database's roles and
// extensions. Giving the restore a role that may create schemas.
//
// # What it never does
//
// It never builds SQL from row data (identifiers are quoted with
// pgx.Identifier, values go through COPY), never puts row data in errors,
// and never writes outside the staging and destination schemas.
package pgsource
