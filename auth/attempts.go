package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// AttemptStore counts login attempts per throttle key: client keys, and
// account names that match no usable user (unknown, disabled, removed or
// locked), so that those are throttled exactly like known accounts, whose
// count lives in User.Lockout. Keys are opaque 64-character hex digests;
// the store never sees a name or a client address.
//
// Implementations are safe for concurrent use. Replicas must share one
// store (pgauth.AttemptStore) for the limits to be deployment-wide;
// the in-memory store of auth/memstore suits one process, the one of
// auth/filestore one process on the file stores.
type AttemptStore interface {
	// Reserve atomically reads the key's count and the time of its latest
	// attempt (0 and the zero time when unknown or idle for forget),
	// asks wait how long an attempt must still wait, and when that is 0
	// counts the attempt at now. It returns wait's answer; nothing is
	// counted when it is not 0.
	Reserve(ctx context.Context, key string, now time.Time, forget time.Duration, wait func(count int, last time.Time) time.Duration) (time.Duration, error)
	// Release gives back one counted attempt (it turned out to be right).
	Release(ctx context.Context, key string) error
}

// attemptKey is the AttemptStore key of a throttle key.
func attemptKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}
