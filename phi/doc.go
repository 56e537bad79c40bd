// Package phi protects PHI (protected health information) at rest: value
// types that redact themselves, and envelope encryption under per-subject
// keys, so that one patient's data can be destroyed everywhere by destroying
// one keyset (crypto-shredding).
//
// Start with NewVault, giving it a KeyStore (phi/filestore is the embedded
// default, phi/pgstore the PostgreSQL one, phi/memstore for tests) and a KEK
// (phi/localkek is the embedded default, phi/awskms uses AWS KMS):
//
//	v, err := phi.NewVault(phi.VaultConfig{Keys: store, KEK: kek})
//	b := phi.Binding{Subject: patientID, Field: "dob"}
//	sealed, err := v.Seal(ctx, b, []byte("1970-01-01"))
//	dob, err := v.Open(ctx, b, sealed)     // dob is a phi.Bytes; it prints "[redacted]"
//	raw := dob.Reveal()                     // the explicit step to plaintext
//	raw, err = v.Reveal(ctx, b, sealed, "treatment") // the same, audited
//
// # What phi guarantees
//
//   - Each subject (patient) has its own Tink AES-256-GCM keyset, created on
//     first Seal, stored in the KeyStore encrypted under the KEK with the
//     subject ID as associated data: a wrapped keyset moved to another
//     subject does not unwrap.
//   - A sealed value opens only under the Binding it was sealed with (subject,
//     field, tenant, record): a ciphertext copied to another patient or field
//     fails with ErrTampered.
//   - Sealed values are self-describing (format version, key ID) and their
//     format (FORMAT.md) keeps opening in later versions; golden vectors in
//     testdata/ prove it.
//   - Vault.Shred destroys a subject's keyset and leaves a tombstone; every
//     value sealed for the subject then fails with ErrShredded, and the
//     subject can never get keys again. Other subjects are not affected,
//     including their blind indexes. With an audit writer, every Shred is
//     audited after it happened (audit.ActionShred with the number of keys
//     destroyed, or outcome failure) and fails closed with ErrAuditFailed
//     when the event cannot be written.
//   - Errors are distinct (ErrShredded, ErrKeyNotFound, ErrTampered,
//     ErrUnsupportedVersion, ErrMalformed, ...) and testable with errors.Is;
//     no error, panic or fmt, JSON or slog output contains plaintext or key
//     material. Text, Date and Bytes print as "[redacted]" everywhere; the
//     Vault and the KEKs (localkek.KEK, awskms.KEK) print as
//     "<type>{[redacted]}" under every fmt verb, %#v, slog and JSON.
//   - Vault.Reveal audits every access and fails closed when the audit event
//     cannot be written. Vault.ServeSealed hands a value out still sealed
//     (never opened, no key read) after auditing a read with the attribute
//     exposure=sealed (audit.AttrExposure), the record breach scoping's
//     encryption safe harbor rests on; it fails closed the same way.
//   - Reviewer opens the sealed prior and new values of the changes in a
//     record's history (audit.RecordHistory) only for a reviewer that
//     ReviewerConfig.Permitted admits (nil admits nobody), each value
//     through an audited reveal with purpose audit_review that names the
//     audit record; a refusal is recorded too (reason no_permission). It
//     works after subject-key and KEK rotations, and reports the values of
//     a shredded subject as ValueDestroyed instead of failing.
//   - Keys rotate: RotateSubjectKey adds a new primary key per subject (old
//     values still open; Reseal moves a value to the new key), and RotateKEK
//     re-wraps every stored keyset under a new KEK without touching data,
//     resumably.
//
// # What phi leaves to the caller
//
//   - Subject IDs, fields, tenants and records are not stored in sealed
//     values; the caller supplies them again to open. Subject IDs are stored
//     in clear and must not themselves be PHI (use opaque IDs).
//   - Sealed values hide content, not length.
//   - Unwrapped keys are cached in memory (VaultConfig.CacheEntries). In
//     this process, Shred and rotation take effect at once. In other
//     processes sharing a store that announces changes (KeyChangeNotifier:
//     phi/pgstore, phi/filestore), as soon as the announcement arrives, and
//     within UnwatchedCacheTTL (one second) while announcements cannot be
//     received; with other stores, after at most the cache TTL. Close a
//     Vault to stop its watch of the store.
//   - Keeping the KEK safe, backed up and apart from the data.
//   - Blind indexes reveal equality of values (that is their purpose); index
//     only fields where that is acceptable.
//
// # What phi never does
//
// It never logs, never reads the environment, never stores plaintext keys,
// never derives blind-index keys from subject keys, and never hands out
// plaintext except through a method named Reveal.
package phi
