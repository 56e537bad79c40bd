package phi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// Default key-cache settings (see WithCache).
const (
	DefaultCacheEntries = 10000
	DefaultCacheTTL     = 5 * time.Minute
)

// Option configures a Vault. Options are created only by the With functions
// of this package.
type Option interface {
	apply(*settings) error
}

type optFunc func(*settings) error

func (f optFunc) apply(s *settings) error { return f(s) }

type settings struct {
	clock        clock.Clock
	cacheEntries int
	cacheTTL     time.Duration
	audit        audit.Writer
	auditInfo    func(context.Context) (audit.Actor, audit.Origin)
	oldKEKs      []KEK
	normalizers  map[string]Normalizer
}

// WithClock sets the clock that ages cache entries (default: the system clock).
func WithClock(c clock.Clock) Option {
	return optFunc(func(s *settings) error {
		s.clock = clock.OrSystem(c)
		return nil
	})
}

// WithCache bounds the cache of unwrapped subject keysets to maxEntries
// keysets, each kept at most ttl after it was loaded (defaults:
// DefaultCacheEntries, DefaultCacheTTL). WithCache(0, 0) disables the cache:
// every Seal and Open then reads the store and calls the KEK.
//
// Shred and key rotation through a Vault invalidate that Vault's cache at
// once. Another process sharing the same store (for example PostgreSQL) keeps
// its cached keys until they age out: ttl bounds how long it can still open a
// subject shredded elsewhere, or keep sealing under a rotated-out key.
func WithCache(maxEntries int, ttl time.Duration) Option {
	return optFunc(func(s *settings) error {
		if maxEntries < 0 || ttl < 0 || (maxEntries > 0) != (ttl > 0) {
			return errors.New("phi: WithCache needs both maxEntries and ttl positive, or both zero")
		}
		s.cacheEntries, s.cacheTTL = maxEntries, ttl
		return nil
	})
}

// WithAuditWriter sets the writer that Vault.Reveal records every access
// through. Without one, Reveal refuses every access.
func WithAuditWriter(w audit.Writer) Option {
	return optFunc(func(s *settings) error {
		if w == nil {
			return errors.New("phi: WithAuditWriter: nil writer")
		}
		s.audit = w
		return nil
	})
}

// WithAuditInfo sets the function that Vault.Reveal calls to learn who is
// acting and how the request arrived (for example from an authenticated
// session in ctx), to fill the audit event's Actor and Origin.
func WithAuditInfo(f func(ctx context.Context) (audit.Actor, audit.Origin)) Option {
	return optFunc(func(s *settings) error {
		if f == nil {
			return errors.New("phi: WithAuditInfo: nil function")
		}
		s.auditInfo = f
		return nil
	})
}

// WithOldKEKs gives the Vault previous KEKs, so that it can still unwrap
// keysets that a KEK rotation has not re-wrapped yet. New keysets are always
// wrapped by the Vault's current KEK.
func WithOldKEKs(keks ...KEK) Option {
	return optFunc(func(s *settings) error {
		for _, k := range keks {
			if k == nil {
				return errors.New("phi: WithOldKEKs: nil KEK")
			}
		}
		s.oldKEKs = append(s.oldKEKs, keks...)
		return nil
	})
}

// WithBlindIndex registers field for Vault.BlindIndex, with the function that
// normalises a value before it is indexed (for example NormalizeEmail). A
// field must be registered, with the same normaliser in every process, before
// it can be indexed.
func WithBlindIndex(field string, normalize Normalizer) Option {
	return optFunc(func(s *settings) error {
		if len(field) == 0 || len(field) > maxFieldLen || !printableASCII(field) {
			return fmt.Errorf("phi: WithBlindIndex: field must be 1 to %d bytes of printable ASCII", maxFieldLen)
		}
		if normalize == nil {
			return errors.New("phi: WithBlindIndex: nil normaliser")
		}
		if _, dup := s.normalizers[field]; dup {
			return errors.New("phi: WithBlindIndex: field registered twice")
		}
		s.normalizers[field] = normalize
		return nil
	})
}
