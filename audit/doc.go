// Package audit records who accessed which record, when, how and why, in a
// tamper-evident trail that fails closed (45 CFR 164.312(b)).
//
// Start with OpenFileLog, the embedded default Writer: an append-only,
// hash-chained log of JSON Lines segment files in one directory. Every
// component that touches PHI takes a Writer and calls Write before it lets
// the access happen; when Write fails, the access must fail too (the HTTP
// Middleware answers 503). The PostgreSQL writer lives in audit/pgaudit;
// audit/audittest is the conformance suite for any Writer. Multi writes to
// several writers (all must succeed) and NewSlogWriter also emits events to
// a log/slog handler. Query, Export and AccountingOfDisclosures read a
// trail back; through VerifiedSearcher they check what they read. Query
// pages oldest first, or newest first with Filter.Descending (the file and
// PostgreSQL trails pass audittest.RunListingOrder); Export always keeps
// chain order, so that an export verifies.
//
// # Disclosures
//
// A disclosure is an event with action disclose (ActionDisclose) that names
// a Recipient (person or organisation, with its address if known) and a
// Purpose; RecordDisclosure refuses one without them. AccountingOfDisclosures
// (45 CFR 164.528) lists, from any Searcher (file log, PostgreSQL), the
// disclosures of one patient in the last six years whose purpose is not
// treatment, payment or health care operations (TPOPurposes), which
// 164.528(a)(1) excludes; AccountingRequest.IncludeTPO adds them and every
// internal access without a recipient.
//
// # Record history
//
// RecordHistory answers, from any ChainSearcher (the file trail, the
// PostgreSQL trail, a VerifiedSearcher), the change history of one record
// and optionally one data element (HistoryRequest): every create, update,
// delete and shred (ChangeActions) with who (Actor, and the name a
// Directory gives for the user ID; a directory holds no PHI), when, how
// (channel, route, request ID), the outcome and reason (failed attempts
// included), and whether sealed new and prior values were recorded. Each
// stream is listed in chain order, the order its events were recorded;
// several streams (replicas) merge by time. The values stay sealed:
// phi.Reviewer opens them for a permitted reviewer, audited.
// audittest.RunHistory is the conformance suite both trails pass.
//
// # Text output
//
// Every text output (CSV export, the CLI's tables, reports) passes field
// values through EscapeText (CSVSafe for CSV cells): C0 and C1 controls,
// DEL, bidirectional overrides and isolates and other invisible format
// characters become visible escapes such as \x1b and \u202e, so a hostile
// value cannot rewrite an auditor's terminal or reorder a line. JSON Lines
// output is the canonical encoding, unchanged.
//
// # What is never recorded
//
// An Event holds identifiers and sealed (encrypted) values only; no field
// may hold plaintext PHI. Record and subject identifiers are opaque; the
// HTTP middleware records the matched route pattern, never the raw path or
// query string; a changed data element's new and prior values are sealed
// bytes produced by the caller (for example with phi), and the chain hashes
// those bytes, so crypto-shredding a subject makes them unreadable without
// breaking verification. Session tokens, passwords, keys and secrets are
// never recorded (Actor.SessionID is an opaque session reference). The slog
// bridge logs the sizes of sealed values, never their bytes. Errors never
// quote event contents or log lines.
//
// # What it guarantees
//
//   - Durability: FileLog.Write returns nil only after the event's line is
//     fdatasync'ed; concurrent writes share one write and one fdatasync
//     (group commit). An acknowledged event survives a crash of the process
//     (a test kills a writer with SIGKILL mid-stream and finds every
//     acknowledged event).
//   - Fail closed: an invalid event, a storage error, a checkpoint-sink
//     error, a pending buffer that stays full past FullTimeout and a write
//     not durable within WriteTimeout all return an error; after a storage
//     error every later Write fails (ErrUnavailable) until the log is
//     reopened.
//   - Safe encoding: user-supplied strings (user agents, reasons, attribute
//     values) are escaped in the canonical JSON encoding, so newlines,
//     control characters and quotes cannot split or forge entries; text
//     outputs escape them with EscapeText.
//   - Tamper evidence: each record carries its stream, sequence number, the
//     previous record's hash and its own hash over the canonical encoding
//     (FORMAT.md). Signed ed25519 checkpoints are written every N events,
//     every T of time and at close, and every segment starts with a signed
//     anchor. Verification (Verifier, Verify, VerifyDir) detects a modified,
//     deleted, inserted, duplicated or reordered record, a forged
//     checkpoint, a missing segment, and truncation of anything a checkpoint
//     kept elsewhere (VerifyOptions.Expect) covers; it names the first bad
//     record and uses memory independent of the log's size. A checkpoint is
//     trusted only after its signature verifies, wherever it comes from
//     (the log, the database, a CheckpointFile via LatestCheckpoints,
//     VerifyOptions.Expect): a forged or foreign one is reported as a bad
//     signature, never as truncation, and never hides a genuine one.
//   - Reads that check: VerifiedSearcher reads the trail through a Verifier,
//     so Query, Export and AccountingOfDisclosures report tampering (a
//     *VerifyError) instead of returning forged records. Readers
//     (FileReader, VerifyDir, the searchers) never create or change a file
//     in a log directory. Every Searcher validates filters with
//     Filter.ValidateSearch.
//   - Exports verify: an ExportJSONL export from a ChainSearcher is in
//     chain order per stream, so an export of whole streams verifies with
//     Verify even when overlapping requests were chained out of time order.
//   - Bad input: torn, oversized, wrong-version and non-canonical lines are
//     typed errors (ErrTorn, ErrOversized, ErrVersion, ErrNonCanonical,
//     ErrMalformed), never panics. A torn last line found at open is
//     reported; FileOptions.Repair drops exactly that unacknowledged tail and
//     records a trail_repaired event.
//   - Retention: FileLog.Purge removes only whole segments whose every record
//     was written longer than the retention ago (six calendar years by
//     default, SixYearsAfter: the one definition retention and compliance
//     use) and none of whose records is under hold. It decides by when a
//     record was written, as signed checkpoints attest, never by the
//     caller's Event.Time, and refuses a retention below six calendar years
//     (ErrRetentionTooShort) unless PurgeOptions.AllowRetentionBelowSixYears.
//     The remaining log starts at a signed anchor, a recorded purge event
//     explains the start and a signed checkpoint covers that event, so it
//     still verifies and stays sealed.
//
// # Merkle tree, proofs and format-v2 checkpoints
//
// Every stream is also an RFC 6962 Merkle tree over its record lines
// (LeafHash), maintained as records are appended: FileLog keeps its stored
// hashes in tree.hashes beside the segments and, with every checkpoint, a
// format-v2 checkpoint (TreeCheckpoint: a C2SP tlog-checkpoint in a C2SP
// signed note, ed25519, naming the tree size, root and chain head) in
// checkpoint.note; audit/pgaudit keeps both in tables. ProveInclusion shows
// one record is in the log (InclusionProof, a self-contained text form that
// VerifyInclusionProof checks offline with only the public keys);
// ProveConsistency and VerifyConsistency show a later checkpoint extends an
// earlier one; Prover.VerifySince (CheckTree) rebuilds the tree from the
// records and refuses a log that does not extend a checkpoint kept from it
// (ErrNotExtended), which catches a log cut exactly at a checkpoint or a
// rewound head. A v1 log upgrades in place: its tree is rebuilt from its
// records when it is opened, and the hash chain and v1 checkpoints are
// unchanged. Proofs of another stream, under another key or with a forged
// root are refused (*StreamMismatchError, ErrBadSignature,
// ErrTreeMismatch).
//
// ProofVerifier verifies proofs and checkpoint notes against fixed keys,
// checking a note's signature once for many proofs. Package audit/archive
// archives a file log's old segments with C2SP tlog-tiles tree tiles and
// checkpoints to a target that verifies, proves and answers queries on its
// own; audit/witness publishes every new checkpoint to witnesses
// (Publisher) and checks K-of-N cosignatures.
//
// # What it leaves to the caller
//
//   - The checkpoint signing key (any crypto.Signer with an ed25519 public
//     key, e.g. one held in a KMS) and the distribution of its public key
//     to verifiers. Without a key a verifier cannot tell a forged log from
//     a real one. After a key rotation, pass the old public keys, as a
//     signing.KeySet, to FileOptions.PreviousKeys and to VerifyOptions.Keys.
//   - A second place for checkpoints (FileOptions.CheckpointSink, for
//     example a CheckpointFile on another disk, read back with
//     LatestCheckpoints and the trusted keys into VerifyOptions.Expect) when truncation of the
//     newest records must be detectable: a log cut after its last
//     checkpoint is indistinguishable from a shorter log unless a copy of a
//     later checkpoint exists elsewhere.
//   - One stream per writing process: a directory holds one stream; several
//     processes use several directories (or the PostgreSQL writer with a
//     stream per instance). A second trail, such as the disposal ledger,
//     uses its own directory and stream name.
//   - Which client IP to trust (see the middleware's extractors) and which
//     records are under legal hold (PurgeOptions.Held).
//
// # What it never does
//
// It never rewrites or deletes a record except by purging whole expired,
// unheld segments; never acknowledges an event before it is durable; never
// trusts forwarding headers by default; never appends to a log without
// first checking the signed anchor and the chain of its newest segment.
//
// # Backwards compatibility
//
// Records and checkpoints carry a format version ("v":1). Lines of version
// 1 will always parse, verify and re-encode to the same bytes; the golden
// vectors in testdata/golden are the proof.
package audit
