// Package pgbreach keeps breach incident entries in PostgreSQL: one row per
// entry holding its canonical line (breach/FORMAT.md), the same bytes the
// file store writes, so both stores read and write one format.
//
// # What it guarantees
//
//   - Append-only: triggers refuse UPDATE, DELETE and TRUNCATE of
//     breach_entries.
//   - Gap-free, conflict-detecting appends: an entry is inserted only when
//     its seq is one more than the incident's last (otherwise
//     breach.ErrConflict); the primary key (incident, seq) settles
//     concurrent appends, so exactly one of them wins.
//   - Reads parse every line with breach.ParseEntry and rebuild the
//     incident with breach.Fold: a changed row is reported
//     (breach.ErrMalformed), never trusted.
//
// # What it leaves to the caller
//
// Running Migrate once per schema, and the connection pool (its
// search_path chooses the schema).
package pgbreach
