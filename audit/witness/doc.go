// Package witness implements C2SP tlog-witness for hipaakit's format-v2
// audit checkpoints: a witness (Witness, served over HTTP by Handler and by
// "hipaakit witness") cosigns a log's checkpoint only when it is signed by a
// trusted log key and consistent with the last checkpoint of that log it
// cosigned, so that a log cannot show two histories to two parties (a split
// view); AddCheckpoint is the log's client; VerifyCosignatures requires K of
// N witness cosignatures on a checkpoint.
//
// Guarantees:
//   - A witness never cosigns two different trees of the same size of one
//     log, nor a tree that does not extend the last one it cosigned: its
//     state (size, root, chain head per origin) is replaced atomically on
//     disk before the cosignature is returned.
//   - Cosignatures are C2SP tlog-cosignature/v1 (ed25519, signature type
//     0x04): over "cosignature/v1\ntime T\n" and the checkpoint body.
//   - Bad input (requests, notes, proofs, cosignature lines) is a typed
//     error (ErrMalformed, ErrConflict via *ConflictError, ErrInconsistent,
//     audit.ErrBadSignature), never a panic.
//   - Publisher sends every new checkpoint of a log to its witnesses and
//     stores the cosignatures with the checkpoint (Store: FileStore for a
//     file log, pgaudit.CosignatureStore on PostgreSQL). It never blocks or
//     fails a write: the log's checkpoint sink only wakes it; a witness
//     that is down or refuses shows in Status and in CheckStored (K of N,
//     ErrTooFewCosignatures; a newest checkpoint not yet cosigned,
//     ErrStale). Several processes may publish one stream: witnesses
//     answer a stale size with a conflict and the Publisher resends from
//     theirs, and the stores keep each cosignature once.
package witness
