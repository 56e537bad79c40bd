// Package pgledger keeps the disposal ledger in PostgreSQL, as streams of
// the audit/pgaudit trail: the same append-only, hash-chained, checkpointed
// records, written and verified by the audit package's code.
//
// # Several instances
//
// pgaudit gives every writer its own stream. Each instance opens the ledger
// with its own stream name beginning with "disposal" (the default is
// "disposal"; for example "disposal-" plus a pod name). The ledger is the
// union of every such stream in the schema: Replay and Lookup read them
// all, so a disposal recorded by any instance is replayed and found.
//
// # What it leaves to the caller
//
//   - Running Migrate (pgaudit's schema) once per schema.
//   - Giving the ledger a schema of its own (a pool whose search_path names
//     it). In the audit trail's schema, a purge of the trail would drop old
//     ledger records with it, and every ledger scan would verify the whole
//     trail. The ledger must be kept at least as long as any backup that
//     predates its newest entry.
//
// # What it never does
//
// It never updates or deletes a record (pgaudit's triggers refuse it), and
// Replay never trusts a ledger that does not verify.
package pgledger
