// Package memstore is an in-memory phi.KeyStore for tests and examples.
//
// # Guarantees
//
// Store implements the full phi.KeyStore contract (compare-and-swap updates,
// shred tombstones that block re-creation, ordered listing) and is safe for
// concurrent use. Values are deep-copied on the way in and out, so callers
// cannot alter stored keysets through shared slices.
//
// # What it leaves to the caller
//
// Nothing is persisted: every keyset, and with it every value sealed under
// it, is lost when the process exits. Use phi/filestore (the embedded default)
// or phi/pgstore for data that must survive.
//
// # What it never does
//
// It never holds plaintext keys: it stores only wrapped keysets, exactly as
// the Vault hands them over. Shred drops the wrapped keyset from memory
// (the Go runtime may keep the freed bytes until they are reused).
package memstore
