// Package pgretention keeps retention's state in PostgreSQL: legal holds
// (HoldStore) and the sweep lock and cursor (SweepState), so that several
// instances of a service share them.
//
// # What it guarantees
//
//   - Holds are rows that are never deleted; lifting one records who, when
//     and why. Lift is a single conditional UPDATE, so two concurrent lifts
//     cannot both succeed.
//   - SweepState.Lock is a session-level advisory lock (pg_try_advisory_lock)
//     on a dedicated connection: one sweep at a time across every instance
//     using the same database and schema, released by the server when the
//     holder's connection dies.
//
// # What it leaves to the caller
//
// Calling Migrate once at start-up (it is idempotent and safe to run from
// several instances at once), and giving the pool a search_path whose first
// schema holds the tables.
//
// # What it never does
//
// It never builds SQL from input: every value is a query parameter.
package pgretention
