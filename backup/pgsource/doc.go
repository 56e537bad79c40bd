// Package pgsource backs up a PostgreSQL schema (all of its tables or a
// chosen few) into a backup.Repository and restores it into PostgreSQL,
// through github.com/jackc/pgx/v5.
//
// # What it guarantees
//
// Source reads everything — the DDL, every table's rows (streamed with
// COPY … TO STDOUT, never held in memory) and every sequence's value — in
// one REPEATABLE READ, READ ONLY transaction, so the backup is one
// consistent snapshot of the schema. Several Sources that share a held
// Snapshot (backup.SetConfig.Cut = Snapshot.Hold) all read the moment it
// exported, whatever schema each reads, so a backup set of several schemas
// of one database is one snapshot of all of them. Source.SkipRows backs up
// a table's structure without its rows (recorded in the manifest; the drill
// compares the structure). Sink restores into a staging schema
// inside one transaction and renames it to the destination schema in the
// same transaction, so the destination holds either its old content or the
// complete restore, never a part; it refuses a destination schema that holds
// tables unless the restore is forced. Sink implements backup.Checker, so a
// restore drill re-reads every restored table and compares row counts and
// checksums with the manifest, and regenerates the DDL and compares it too.
//
// # What it leaves to the caller
//
// The objects it does not back up: views, policies, grants, domains and
// composite types (enum types are backed up); a partition's own defaults.
// Functions (plpgsql and sql) and triggers are backed up and restored after
// the rows (routines.sql), so a restored audit/pgaudit or disposal/pgledger
// schema rejects UPDATE, DELETE and TRUNCATE of its trail as the original
// did, and its partition function creates months in the restored schema.
// A function or trigger that a restore could not recreate faithfully makes
// the backup fail with an *ObjectError (ErrUnsupportedObject) naming it,
// rather than producing a backup that silently lacks it. A table default or
// check constraint calling a schema function is not supported (the
// functions are created after the tables). A backup made before
// routines.sql existed has no functions or triggers: when it holds a
// hipaakit_migrations table (whose rows would say they were applied) Sink
// refuses it with ErrWithoutRoutines, unless Sink.AllowWithoutRoutines is
// set, after which the caller must recreate them (e.g. by replaying the
// pgaudit migration's function and trigger statements) before writing.
// Restoring the database's roles and
// extensions. Giving the restore a role that may create schemas.
//
// # What it never does
//
// It never builds SQL from row data (identifiers are quoted with
// pgx.Identifier, values go through COPY), never puts row data in errors,
// and never writes outside the staging and destination schemas.
package pgsource
