// Package signing is the one home of hipaakit's ed25519 signing keys: the
// keys that sign audit checkpoints, disposal-ledger checkpoints and
// disposal certificates.
//
// # Guarantees
//
//   - One private-key file format: PEM "PRIVATE KEY" (PKCS #8), mode 0600,
//     written atomically and exclusively through package durable (Save,
//     LoadOrCreate): a crash never leaves a partial key file, an existing key
//     is never overwritten, and two processes racing to create a key both end
//     up with the one key stored first.
//   - One public-key encoding: PEM "PUBLIC KEY" (PKIX), written by
//     EncodePublicKey and read by ParsePublicKey and ParseKeySet. Parsers
//     never panic on any input (fuzzed) and fail with errors that errors.Is
//     matches against ErrMalformedKey or ErrNotEd25519.
//   - One key identifier: KeyID, the first 8 bytes of SHA-256 of the raw
//     32-byte public key, in hex. Every signed hipaakit format names its key
//     by KeyID.
//   - A KeySet holds the trusted public keys of a deployment (the current
//     one and earlier ones after a rotation) and verifies a signature by the
//     key its KeyID names. Its file form (a trusted-keys file, ParseKeySet,
//     ReadKeySet, EncodePEM) is one or more PEM "PUBLIC KEY" blocks, the
//     current key first; Save writes the public key of "key.pem" beside it
//     as "key.pub.pem" (PublicKeyPath), which is such a file. Every
//     hipaakit option and accessor that holds trusted keys is a KeySet
//     (audit.VerifyOptions.Keys, audit.FileOptions.PreviousKeys,
//     backup.DrillOptions.AuditKeys, the root package's TrustedKeys,
//     serviceconfig's key accessors), never a bare slice.
//   - PrivateKey redacts itself under every fmt verb, log/slog and
//     encoding/json; errors never contain key material or paths. Key bytes
//     come out only through ExportPEM.
//
// # Rotation
//
// Generate a new key and Save it under a new name, sign with it, and keep
// the old public key in the KeySet (NewKeySet(current, old...)) for as long
// as anything it signed must verify: audit checkpoints, ledger checkpoints
// and disposal certificates name their key by KeyID, so each verifies with
// the key that made it.
//
// # What it leaves to the caller
//
// Keeping the private key file secret (mode 0600 is set, the directory and
// its backups are the caller's), and distributing the public key to whoever
// verifies. A key held in a KMS or HSM needs no PrivateKey: every hipaakit
// API that signs takes a crypto.Signer whose public key is ed25519.
package signing
