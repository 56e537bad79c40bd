package phi

import (
	"context"
	"errors"
	"time"
)

// Errors returned by KeyStore implementations and by the Vault. They are
// distinct so that callers can tell them apart with errors.Is.
var (
	// ErrShredded reports that the subject's keys were destroyed (crypto-shredded).
	// Data sealed for the subject can never be opened again.
	ErrShredded = errors.New("phi: subject shredded")
	// ErrKeyNotFound reports that no keyset exists under the reference.
	ErrKeyNotFound = errors.New("phi: key not found")
	// ErrKeyExists reports that KeyStore.Create found a keyset (or a shred
	// tombstone) already stored under the reference.
	ErrKeyExists = errors.New("phi: key already exists")
	// ErrConflict reports that KeyStore.Update lost a compare-and-swap race:
	// the stored keyset's version is not the one the caller read.
	ErrConflict = errors.New("phi: concurrent key update")
)

// WrappedKeyset is a keyset as it is stored: encrypted under a KEK. Nothing in
// it is secret on its own.
type WrappedKeyset struct {
	// Ref names the keyset: a subject ID for per-subject data keys, or a
	// reserved system reference (see ValidRef).
	Ref string
	// Version increases by one on every successful Update; Create stores 1.
	Version int64
	// KEKID is KEK.ID() of the KEK that wrapped Ciphertext.
	KEKID string
	// Ciphertext is the keyset encrypted under the KEK with Ref as associated data.
	Ciphertext []byte
	// KeyIDs lists the IDs of the keys inside the keyset (not secret), so that
	// a disposal certificate can name what was destroyed without unwrapping.
	KeyIDs []uint32
	// Created and Updated are set by the store.
	Created, Updated time.Time
}

// KeyStore persists wrapped keysets and shred tombstones. Implementations:
// phi/memstore (tests), phi/filestore (embedded default), phi/pgstore
// (PostgreSQL). phi/keystoretest holds the conformance suite every
// implementation must pass.
//
// Contract:
//   - Get returns ErrShredded for a shredded reference, ErrKeyNotFound for one
//     never stored, and otherwise the stored keyset.
//   - Create stores a new keyset with Version 1. It returns ErrKeyExists when
//     the reference holds a keyset, and ErrShredded when it holds a tombstone:
//     a shredded subject can never get keys again under the same reference.
//   - Update replaces the keyset only if the stored Version equals
//     prevVersion, storing prevVersion+1; otherwise ErrConflict (or
//     ErrShredded / ErrKeyNotFound).
//   - Shred destroys the keyset (no copy of Ciphertext remains readable through
//     the store) and leaves a tombstone. It is idempotent, and it succeeds for
//     a reference that was never stored (so a disposal-ledger replay can shred
//     in advance of a restore). It returns the key IDs destroyed, if any.
//   - List returns keysets (not tombstones) with Ref > after, ordered by Ref,
//     at most limit of them; it is how KEK rotation walks the store.
//   - Every method is safe for concurrent use, also across processes sharing
//     the same underlying storage, and honours ctx cancellation.
type KeyStore interface {
	Get(ctx context.Context, ref string) (WrappedKeyset, error)
	Create(ctx context.Context, k WrappedKeyset) error
	Update(ctx context.Context, k WrappedKeyset, prevVersion int64) error
	Shred(ctx context.Context, ref string) (destroyed []uint32, err error)
	List(ctx context.Context, after string, limit int) ([]WrappedKeyset, error)
}
