// Package filestore is the embedded default phi.KeyStore: wrapped keysets and
// shred tombstones as files in one directory, with nothing to install.
//
//	store, err := filestore.Open(filepath.Join(dataDir, "keys"), filestore.Config{})
//
// # Guarantees
//
//   - Durability: Create, Update and Shred return nil only after the new
//     record is on stable storage. Each write goes to a temporary file that
//     is fsynced, renamed over the record and followed by an fsync of the
//     directory (internal/durable.WriteFileAtomic), so after a crash a record
//     holds either its old or its new content, never a mix.
//   - Consistency across processes: every write is a read-modify-write under
//     an exclusive flock on <dir>/.lock, taken by polling so that waiting
//     honours ctx. Two processes (or two Stores in one process) on one
//     directory therefore see one store: Create and Update are atomic
//     compare-and-swaps across them. Reads take no lock; they see each
//     record either before or after a write.
//   - Changes announced across processes: Update and Shred bump a change
//     counter (.generation) under the lock, after the record is written.
//     WatchKeyChanges (phi.KeyChangeNotifier, which phi.NewVault uses)
//     reads it every 100 ms, so a Vault in another process on the directory
//     drops its cached keys within about 100 ms of a shred or rotation
//     (TestShredVisibleOnAnotherHandleWithinASecond logs the distribution);
//     while the counter cannot be read, the Vault caches keys at most
//     phi.UnwatchedCacheTTL. The counter is written in place and not synced:
//     it only tells running processes that something changed.
//   - Safe names: a record's file name is "k" followed by the reference in
//     lowercase base32 (extended-hex alphabet, no padding), never the raw
//     reference, so references that differ only in case stay distinct on
//     case-insensitive file systems. Files are created 0600, and the
//     directory 0700 when Open creates it (an existing directory keeps its
//     mode).
//   - Integrity: each record carries a CRC-32C. A damaged record is reported
//     as ErrCorrupt, never as a missing or shredded key; Shred still
//     replaces it with a tombstone.
//
// # What it does not protect against
//
// Shred makes the keyset unreachable through the store at once, then
// overwrites the old file's blocks with zeros, best effort. Copy-on-write
// file systems, SSD wear levelling, snapshots, journals and backups can keep
// earlier copies of a wrapped keyset (also those replaced by Update) beyond
// the reach of any file API. A wrapped keyset is only readable with the KEK,
// so to make such copies useless rotate the KEK (phi's KEK rotation re-wraps
// every live keyset) and destroy the old one. The disposal ledger, not this
// store, is what keeps a restored backup from resurrecting a shredded
// subject.
//
// The lock is an advisory flock: it does not work across machines on network
// file systems (NFS, SMB) and does not stop a process that ignores it. Keep
// the directory on a local file system, used by hipaakit only. Files are not
// encrypted by this package beyond what the KEK does: the ciphertexts are
// KEK-wrapped, the references (subject IDs) and key IDs are stored in clear.
//
// List reads the directory's names on every call and is meant for KEK
// rotation and tooling, not for hot paths; the store suits up to a few
// hundred thousand subjects.
//
// # Format
//
// Layout version 1: the directory holds FORMAT ("hipaakit phi/filestore 1\n"),
// .lock, .generation (once a record was updated or shredded: the change
// counter, 8 bytes big-endian; a missing or empty file counts as 0), and one
// record file per reference. Open refuses a directory whose
// FORMAT names another layout with ErrUnsupportedVersion, and a non-empty
// directory without FORMAT (it is not a key store).
//
// Record format version 1, all integers big-endian:
//
//	magic      4 bytes  "HKKS"
//	version    1 byte   1
//	kind       1 byte   1 = keyset, 2 = tombstone
//	ref        u16 length + bytes (a phi.ValidRef reference)
//	kind 1 (keyset):
//	  version  i64      WrappedKeyset.Version, at least 1
//	  created  i64      Unix nanoseconds
//	  updated  i64      Unix nanoseconds
//	  kekID    u16 length + bytes (at most 2048)
//	  cipher   u32 length + bytes (at most 1 MiB)
//	  keyIDs   u32 count (at most 65536) + count × u32
//	kind 2 (tombstone):
//	  shredded i64      Unix nanoseconds
//	crc        u32      CRC-32C (Castagnoli) of every preceding byte
//
// A record is exactly this long. A record with another version byte is
// reported as ErrUnsupportedVersion. Golden records live in testdata/.
package filestore
