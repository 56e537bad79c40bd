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
// Shreds of one subject are serialised across instances by a PostgreSQL
// advisory lock of the subject (Store.LockSubject, taken by the Shredder
// from its ledger lookup to its append): concurrent shreds of one subject on
// several instances record one entry, and the others return its certificate
// as repeated (disposal.Result.Repeated). The lock belongs to a database
// session, so an instance that dies holding it releases it; at most half
// of the pool's connections hold subject locks at once.
//
// Scan verifies the schema and reads the ledger streams in one snapshot
// (pgaudit.Store.Snapshot), so instances appending meanwhile are never
// reported as a corrupt ledger.
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
