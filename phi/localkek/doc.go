// Package localkek is the embedded-default phi.KEK: a 256-bit master key
// held by the process, read from a key file in the data directory (created on
// first use) or from a value the caller supplies (for example read from an
// environment variable by the application's main package).
//
// # Guarantees
//
// Wrap encrypts with AES-256-GCM under a key derived from the master key
// (HKDF-SHA256), with a fresh random nonce per call and the caller's
// associated data authenticated: Unwrap with other associated data, or of
// altered bytes, fails with an error matching phi.ErrTampered. The key file
// is created with mode 0600 by an atomic, fsynced write, and a key file
// readable by group or others is refused. ID is "local:" followed by a
// fingerprint that identifies the key without revealing it.
//
// # What it leaves to the caller
//
// Keeping the master key secret and backed up. Whoever holds the key file
// (or the value) and the key store can open every sealed value; whoever
// loses it loses every sealed value. Keep the key apart from the data and its
// backups, and consider phi/awskms, where the master key never leaves KMS.
//
// # What it never does
//
// It never reads environment variables itself, never logs, and never puts
// key material in an error or in ID.
//
// # Key encoding
//
// A key is written as the text "hipaakit-local-kek-v1:" followed by the 32
// key bytes in unpadded base64url (see Encode). The key file holds exactly
// that text and a newline; Parse accepts the same text.
package localkek
