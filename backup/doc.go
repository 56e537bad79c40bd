// Package backup makes encrypted, chunked, deduplicated and verified
// backups, restores them, and proves they restore (164.308(a)(7)(ii)(A),
// (B), (D); 164.310(d)(2)(iv)).
//
// Start with Init (or Open) on a Target — NewDirTarget, the embedded
// default, or backup/s3target — then Repository.Backup a Source (DirSource,
// AuditSource, KeyStoreSource, backup/pgsource), Verify it, Restore it into
// a Sink (DirSink, KeyStoreSink, backup/pgsource), Drill it and Prune old
// backups. The on-target format is documented in FORMAT.md. Key stores are
// restored with FileKeyStoreSink (the embedded file store, staged and
// swapped in atomically) or KeyStoreSink (any phi.KeyStore); both replay the
// disposal ledger first.
//
// # What it guarantees
//
//   - Small incremental backups: content is cut into content-defined chunks
//     (about 1 MiB on average, Config.ChunkSize), so bytes inserted into or
//     deleted from a large file change only the chunks around them, and each
//     chunk is compressed with zstd before encryption when that helps. The
//     compression flag and the declared size are authenticated; a chunk that
//     decompresses beyond its size is refused without allocating it.
//     Repositories and backups of format version 1 (fixed-size chunks) keep
//     working, side by side with new ones.
//   - Unchanged files are not read again: a DirSource file whose size,
//     modification time and mode equal those in the newest backup of the
//     same source (kind and name), and that was modified at least two
//     seconds before that backup started, reuses its chunks. A tool that
//     rewrites a file keeping its size and restoring its modification time
//     defeats this, as it does every backup tool that trusts file metadata.
//   - Confidentiality and integrity: every chunk is encrypted with
//     AES-256-GCM under a repository key that the phi.KEK wraps, and is named
//     by a keyed hash (HMAC-SHA256) of its content, so names reveal nothing
//     and identical chunks are stored once across backups. Each manifest is
//     encrypted and signed (ed25519); it fixes the order, size and keyed hash
//     of every chunk of every entry, so a flipped bit, a missing, swapped,
//     reordered, duplicated or truncated chunk, trailing garbage or a wrong
//     key is an error naming the object (*ObjectError) — never a partial or
//     silent restore.
//   - Atomicity: a backup exists only once its manifest, written and synced
//     after every chunk it names, exists. A backup that fails or is killed
//     is never listed and leaves earlier backups intact; one whose audit
//     event cannot be written is reported failed and its manifest deleted.
//   - Verification: Verify re-reads and authenticates every byte (or a
//     reproducible random subset) and names every bad object; Drill restores
//     into scratch space and compares counts and checksums. Their verdict is
//     reported even when its record cannot be written (a read-only target):
//     the error is then a *MarkerError (ErrMarkerNotWritten).
//   - Damage is contained: a manifest that does not authenticate is skipped
//     by List and named by ListReport (and PruneReport.Damaged), never
//     fatal for the listing; while one exists Prune deletes no chunk. A
//     damaged verification record makes Prune verify that backup again
//     before it decides, so the newest backup that verifies is kept.
//   - Errors name objects ("manifests/<id>", "chunks/ab/…"), never a
//     directory target's absolute path or file names.
//   - Restores are staged and committed atomically where the storage allows
//     (a directory rename, a PostgreSQL schema rename in one transaction) and
//     refuse to overwrite data unless forced. A key store restore replays the
//     disposal ledger before creating any keyset, so a shredded subject stays
//     shredded.
//   - Sets: BackupSet backs several sources up as one set whose members
//     name what they cover, under a cut that makes them one moment where
//     the stores allow it (pgsource.Snapshot: one PostgreSQL snapshot for
//     every PostgreSQL member); DrillSet drills every member and records
//     one event for the set; CopySet copies a set as a unit.
//   - LedgerMirror keeps the disposal ledger's mirror in a Target (S3 with
//     object lock, or a directory), outside the database it protects: a
//     hash chain per writer, objects created once and never overwritten.
//   - Every backup, verification, restore, drill and prune is recorded
//     through the audit.Writer; when the event cannot be written the
//     operation reports failure.
//
// # What it leaves to the caller
//
// Keeping the KEK: without it no backup can be read, and with a KEK that is
// stored beside the backups they are not protected. Scheduling backups,
// verifications and drills. Choosing a Target that is strongly consistent
// (every Target in hipaakit is). Giving the disposal ledger to every key
// store restore, and backing a key store up with KeyStoreSource rather than
// as the files of its directory (a DirSink restore does not replay the
// ledger). Deleting a chunk that Verify reports corrupt, so that the next
// backup stores it again (backups reuse stored chunks without re-reading
// them).
//
// # What it never does
//
// It never writes plaintext to a Target, never puts file names, content or
// key material in errors, progress reports or audit events (object names
// are random IDs or keyed hashes), never deletes the newest verified backup
// of a source (re-verified when its record is damaged) or a backup under
// legal hold, and never lists a backup whose manifest is missing or does not
// authenticate, or whose audit event was not written.
package backup
