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
package witness
