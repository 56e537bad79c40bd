package phi

import "context"

// KEK is a key-encryption key: it wraps and unwraps the per-subject data
// keysets (and the blind-index key). Implementations: phi/localkek (a local
// 256-bit master key, the embedded default) and phi/awskms (AWS KMS).
//
// Wrap and Unwrap bind associatedData to the ciphertext: Unwrap with other
// associated data than Wrap was given must fail. phi passes the key reference
// (for a subject, its subject ID) as associated data, so a wrapped keyset moved
// to another subject does not unwrap.
//
// Unwrap returns an error matching ErrTampered when the ciphertext fails
// authentication (altered, another key, or other associated data), so that
// the Vault can tell tampering from an unavailable KEK; other errors (network,
// throttling, permissions) must not match ErrTampered.
//
// Implementations are safe for concurrent use. Their errors never contain key
// material or plaintext.
type KEK interface {
	// ID names this KEK (for example "local:3f2a9c01" or a KMS key ARN). It is
	// stored beside every keyset it wraps, so that KEK rotation can tell which
	// keysets are still wrapped by an older KEK.
	ID() string
	Wrap(ctx context.Context, plaintext, associatedData []byte) ([]byte, error)
	Unwrap(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error)
}
