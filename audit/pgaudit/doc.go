// Package pgaudit stores the hipaakit audit trail in PostgreSQL (pgx v5):
// an append-only, monthly-partitioned table of hash-chained records, written
// with durable group commit, searchable with audit.Filter and verifiable
// with the same code as the file log.
//
// Start with Migrate, then Open one Writer per application instance:
//
//	if err := pgaudit.Migrate(ctx, pool); err != nil { ... }
//	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "api-" + instanceID, Signer: key})
//	defer w.Close(ctx)
//	mw, err := audit.Middleware(audit.MiddlewareConfig{Writer: w, ...})
//
// # Several instances, one database: one chain per stream
//
// Every Writer appends to its own stream: its own sequence numbers and its
// own hash chain, named by Options.Stream (for example "api-" plus a stable
// instance or pod name). Instances never extend one another's chains, so
// they never wait on a shared head, and every stream verifies on its own.
// The head of each stream lives in the table hipaakit_audit_streams; each
// commit moves it with a compare-and-set on (owner, last sequence number,
// head hash) in the same statement that inserts the records. Open claims
// the stream for a new, random owner, continuing from the stored head, so
// an instance that restarts under the same name carries on its chain. If
// two live writers claim one stream, the older one loses loudly: its next
// commit fails with ErrStreamConflict and so does every later Write, and
// none of its records from that moment is stored, so the chain stays
// intact.
//
// A stream commits one transaction at a time (each commit must follow the
// previous one in the chain). Where commits are bound by the flush latency
// of the disk and CPU is free, an instance can spread its Writer over
// several streams with Options.Shards ("api-7", "api-7.s1", ...), each with
// its own chain, transaction and connection; where CPU is scarce, one
// stream with larger batches is faster (BenchmarkAppend shows both).
//
// # Guarantees
//
//   - Write returns nil only after the transaction holding the event has
//     committed (PostgreSQL's synchronous_commit decides how durable that
//     is; keep it on). Concurrent Writes are collected into one transaction
//     (group commit); each returns when its batch commits or fails.
//   - Fail closed: when the database fails, or the queue stays full past
//     Options.FullTimeout, Write returns an error matching
//     audit.ErrUnavailable, and the access must be refused.
//   - Append-only: triggers reject UPDATE, DELETE and TRUNCATE of records,
//     checkpoints and the purge log.
//   - Each record is stored as its canonical line (audit/FORMAT.md) next to
//     columns derived from it for indexing; reads parse the line and
//     re-check the filter on it, so the derived columns can narrow a search
//     but never change a result.
//   - A signed checkpoint (audit.Checkpoint, ed25519) of the stream's head is
//     stored every Options.CheckpointEvery records, every
//     Options.CheckpointInterval, and at Close, in the same transaction as
//     the records it covers, and optionally handed to a CheckpointSink.
//   - Verify streams every stream through audit.Verifier in sequence order
//     and also compares each stream's last record with the head the streams
//     table holds, which detects truncation after the last checkpoint. It
//     reads heads, records and checkpoints in one snapshot (Store.Snapshot,
//     a REPEATABLE READ, READ ONLY transaction), as does every pass of
//     Store.Entries, so instances appending while it runs are never
//     reported as inserted or truncated records.
//
// # Merkle tree
//
// Each stream's Merkle tree (audit/FORMAT.md, format v2) is stored in
// hipaakit_audit_tree and its format-v2 checkpoints in
// hipaakit_audit_tree_checkpoints (schema version 3), inserted in the
// transaction of the records they cover under the same head compare-and-set.
// A stream written before schema version 3 gets its tree rebuilt from its
// records when its writer opens. Prover (audit.Prover) proves inclusion and
// consistency and checks, in one REPEATABLE READ snapshot, that the stream
// extends a checkpoint kept from it, so deleting the newest rows and
// rewinding the head is found. Witness cosignatures of the checkpoints are
// kept in hipaakit_audit_cosignatures (schema version 4, CosignatureStore,
// a witness.Store), one row per line, so several processes publishing one
// stream never overwrite one another. The records' statement of a commit
// also stores its tree hashes (one statement per commit, as without a
// tree).
//
// # Partitions and retention
//
// Records are partitioned by UTC month of their write time (logged_at,
// which never decreases along a stream, so the oldest partitions always hold
// a prefix of every stream). Open and the writer create partitions
// Options.PartitionsAhead months ahead, under an advisory lock of the schema
// (IF NOT EXISTS besides), so that instances starting together on an empty
// schema, or crossing into a new month together, never fail one another. Purge removes data only by dropping
// whole partitions that ended more than the retention (default six years,
// 45 CFR 164.316(b)(2)) ago and are not under a legal hold, through the SQL
// function hipaakit_audit_purge — the only path that deletes audit data.
// A partition goes only when every record written (logged_at) in its month
// has passed the retention — never judged by the caller's Event.Time — and
// a retention below six calendar years (audit.SixYearsAfter) is refused
// unless PurgeOptions.AllowRetentionBelowSixYears is set.
// In the same transaction it stores, for every stream that lost records, a
// signed anchor checkpoint at the boundary, appends a retention_purge
// record naming the last purged sequence number, and signs a checkpoint
// covering that record, so what remains verifies and stays sealed even for
// a stream whose writer is gone.
//
// # What is left to the caller
//
// Database privileges: run Migrate as a role that owns the schema, and let
// the application role only SELECT and INSERT on the tables and EXECUTE the
// hipaakit_audit_* functions. A table owner or superuser can always drop or
// rewrite tables; checkpoints kept outside the database (CheckpointSink, and
// VerifyOptions.Expect) are what make that detectable.
//
// # What it never does
//
// It never updates or deletes a record, never stores a record whose head
// compare-and-set failed, never builds SQL from filter values (every value
// is a bind parameter, compared with '=', never LIKE), and never puts event
// content into error messages.
package pgaudit
