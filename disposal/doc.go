// Package disposal destroys PHI and proves it: crypto-shredding of a
// subject, the append-only disposal ledger that restores replay, signed
// disposal certificates, and durable deletion of files (45 CFR
// 164.310(d)(2)(i) disposal and (ii) media re-use).
//
// Start with New and Shredder.Shred:
//
//	s, err := disposal.New(disposal.Config{Vault: vault, Keys: keys, Ledger: ledger,
//		Audit: auditLog, Holds: holdRegistry, SigningKey: key})
//	res, err := s.Shred(ctx, subjectID, "patient request", disposal.By(actor))
//	os.WriteFile("disposal.json", res.Signed, 0o644) // verify later with VerifyCertificate
//
// The ledger lives in a directory of its own (FileLedgerStore, the embedded
// default, on the audit package's file log) or in PostgreSQL
// (disposal/pgledger, on audit/pgaudit streams). A restore opens it with
// OpenFileLedgerReader (or pgledger) and calls Ledger.Replay on the restored
// key store before anything else uses it.
//
// # What it guarantees
//
//   - Shred destroys every key of the subject through phi (store and caches),
//     so everything sealed for the subject, in every copy (replicas, logs,
//     backups), can no longer be opened: phi returns ErrShredded.
//   - Every disposal is recorded in the ledger before any key is destroyed.
//     The ledger is an audit stream: append-only, hash-chained and verified
//     by the audit package's code. Ledger.Replay re-applies every recorded
//     disposal to a key store, so restoring a key store from before a shred
//     never brings the subject back; backup restore calls it.
//   - A mirrored ledger (NewMirroredLedger) records every disposal twice:
//     in its store and in a mirror kept outside the database that store
//     and the key store share. Replay and Lookup consult both, so restoring
//     that database to an earlier point (point-in-time recovery, an older
//     dump) brings back neither keys nor a shorter ledger that could be
//     trusted: a subject shredded since stays shredded. The deployment
//     (package hipaakit) mirrors its PostgreSQL ledger to a file ledger in
//     the data directory; Ledger.SyncMirror copies into the mirror what
//     other processes sharing the store recorded.
//   - Shred returns a certificate signed with ed25519 that anyone holding the
//     public key can verify offline (VerifyCertificate, with a signing.KeySet
//     so that certificates signed before a key rotation keep verifying). Certificates have
//     one canonical byte form; any change to one fails verification.
//     The format is versioned and documented in FORMAT.md.
//   - Shred is idempotent: repeating it returns the original certificate.
//     Concurrent shreds of one subject record one disposal: within a process
//     by a per-subject lock, across processes by the store's lock when it
//     has one (SubjectLocker; disposal/pgledger does), the others returning
//     the first's certificate with Result.Repeated.
//     It is refused with ErrLegalHold while a legal hold covers the subject
//     (the refusal is audited; when that event cannot be written the error
//     says so, joined with ErrLegalHold), and it fails closed: no destruction when holds cannot be read or the
//     ledger cannot be written.
//
// # What it leaves to the caller
//
//   - Keeping the signing key secret and publishing its public key (package
//     signing loads, creates and encodes both).
//   - Keeping the ledger at least as long as any backup made before its
//     newest entry, and backing it up separately from the key store.
//   - Deleting rows that hold sealed data, if wanted: after a shred they are
//     unreadable ciphertext.
//   - Reasons are operator text stored in clear: they must not contain PHI.
//
// # What it never does
//
//   - It never overwrites file blocks pretending that this destroys data on
//     SSDs or copy-on-write file systems (see Erase), never echoes reasons or
//     certificate content in errors, and never destroys a key without a
//     ledger entry.
package disposal
