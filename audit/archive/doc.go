// Package archive keeps an audit log's old ranges in an archive that
// verifies on its own: whole sealed segments of a file log (FileSource), or
// the months of a PostgreSQL stream cut at signed checkpoints
// (pgaudit.ArchiveSource), older than Config.After go to
// a Target (a directory or an S3 bucket through backup.ArchiveTarget; on S3
// with object lock in compliance mode every object is locked until the end
// of its records' retention, six years by default) with the C2SP
// tlog-tiles tiles of the stream's Merkle tree and a format-v2 checkpoint
// (C2SP signed note) at the end of each segment.
//
// Layout, under "audit/" and the stream's name (lower case; otherwise
// "x-" and its hex):
//
//	seg/<first seq, 20 digits>.jsonl        the range's JSON lines (a file segment byte for byte)
//	checkpoint/<last seq, 20 digits>.note   the signed checkpoint of the tree of size last
//	tile/<L>/<N>[.p/<W>]                   C2SP tlog-tiles hash tiles, height 8
//	unit/<first seq, 20 digits>.json        the unit manifest (Unit), written last
//
// Guarantees:
//   - Several processes may archive one PostgreSQL stream at once: a
//     range's bytes, tiles and manifest are the same from every process,
//     and either's checkpoint verifies.
//   - Archive stores a segment only after checking that its records are
//     the leaves of the log's stored tree and that the checkpoint it signs
//     at the segment's end is consistent with the log's newest signed one;
//     the manifest, written last, makes a unit visible.
//   - Verify needs nothing but the archive and the keys: every checkpoint's
//     signature, each segment's SHA-256, the tree rebuilt from the records
//     against the tiles and every checkpoint's root (so each checkpoint
//     extends the previous one), and the hash chain with its v1
//     checkpoints. Prover proves inclusion and consistency from the tiles;
//     Records and Searcher (audit.Query over archived ranges) yield a record
//     only after its leaf was found in the tiles verified against the
//     newest signed checkpoint.
//   - Manifests are not signed: an archive whose newest units were removed
//     still verifies on its own, as a log cut at a checkpoint does. Object
//     lock keeps them from removal before their retention; Prover's
//     VerifySince (hipaakit audit archive-verify --since) checks that the
//     archive extends a checkpoint kept elsewhere (from the log, or a
//     witness-cosigned one), which finds such a cut.
//   - Purge removes whole units, oldest first, only once every record of
//     theirs has passed the retention (audit.RetentionPassedBefore, the
//     rule of the log's own purge) and none is held, never the newest, and
//     records the purge in an audit.Writer after the fact; the tiles stay,
//     so what remains still verifies. retention.PurgeAuditArchive applies
//     the deployment's retention policy and legal holds to it.
//   - Bad input (manifests, tiles, tile paths, notes) is a typed error
//     (ErrMalformedUnit, ErrMalformedTile, ErrDamaged, audit.ErrTreeMismatch,
//     audit.ErrBadSignature, ...), never a panic.
package archive
