// Package pgstore is the PostgreSQL phi.KeyStore: wrapped keysets and shred
// tombstones in one table, reached through a pgx v5 pool.
//
//	if err := pgstore.Migrate(ctx, pool); err != nil { ... }
//	store := pgstore.New(pool, pgstore.Config{})
//
// # Schema
//
// Migrate applies the embedded SQL migrations (migrations/NNNN_*.sql) through
// internal/pgmigrate, once each, under an advisory lock, recording them as
// component "phi_keystore" in hipaakit_migrations. Schema version 1 is one
// table, phi_keysets, in the pool's current schema (search_path):
//
//	ref          text COLLATE "C" PRIMARY KEY   the key reference
//	version      bigint                         WrappedKeyset.Version (0 for a tombstone never keyed)
//	kek_id       text                           KEK.ID(); '' for a tombstone
//	ciphertext   bytea                          the wrapped keyset; NULL for a tombstone
//	key_ids      bigint[]                       key IDs; empty for a tombstone
//	created_at, updated_at timestamptz          set from the Store's clock
//	shredded_at  timestamptz                    NULL for a keyset, the shred time for a tombstone
//
// Schema version 2 adds the trigger phi_keysets_changed: every UPDATE (a
// rotation, a re-wrap, a shred) or DELETE of a row calls pg_notify on the
// channel 'hipaakit_keys_' || md5(schema) with the reference as payload, in
// the transaction of the change. A check constraint keeps tombstones free of
// key material. The "C" collation
// makes List's order the byte order of references whatever the database's
// default collation is. Rows in the version-1 layout live in
// testdata/golden-v1.sql, which a test loads and reads back, so that later
// migrations keep existing data readable.
//
// # Guarantees
//
//   - Every call is one statement or one transaction against the database:
//     Create is an INSERT ... ON CONFLICT DO NOTHING, Update a compare-and-
//     swap (UPDATE ... WHERE version = prevVersion), and Shred clears the
//     ciphertext and key IDs and marks the tombstone in one transaction
//     (inserting a tombstone for a reference never stored). So the store is
//     consistent across any number of processes sharing the database, and a
//     committed call is as durable as the database's commit.
//   - Rows are never deleted: a tombstone keeps the reference from ever
//     getting keys again.
//   - The store itself caches nothing. Across processes, what can be stale is
//     the phi Vault's cache of unwrapped keysets in each process, and the
//     store announces every change to it (phi.KeyChangeNotifier): each
//     Vault listens on a dedicated connection of its own (application_name
//     ListenerApplicationName, made like the pool's connections but outside
//     the pool) and drops a keyset when its notification arrives, which is
//     when the change commits; a shred in one process is refused by the
//     others within milliseconds (TestShredVisibleOnAnotherProcessWithinASecond
//     logs the distribution). The listener checks its connection every
//     250 ms (a ping bounded by 500 ms) and reconnects with backoff (50 ms
//     to 1 s); while it is not listening, the Vault caches keys at most
//     phi.UnwatchedCacheTTL (one second), so a change is never missed for
//     longer than that. LISTEN/NOTIFY does not pass through transaction
//     poolers in transaction mode (PgBouncer): point the pool at PostgreSQL
//     or a session-mode pooler.
//
// # What it leaves to the caller and the database
//
// PostgreSQL does not overwrite a row in place: the ciphertext of a shredded
// (or updated) keyset stays in a dead tuple until VACUUM reclaims it, and in
// the write-ahead log, replicas and base backups for as long as those are
// kept. A wrapped keyset is only readable with the KEK, so to make such
// copies useless rotate the KEK (phi re-wraps every live keyset) and destroy
// the old one; the disposal ledger keeps a restored backup from bringing a
// shredded subject back. Protect the database connection (TLS, credentials)
// as you would any store of key material; references (subject IDs) and key
// IDs are stored in clear.
package pgstore
