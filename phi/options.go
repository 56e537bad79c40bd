package phi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
)

// Default key-cache settings (see VaultConfig.CacheEntries).
const (
	DefaultCacheEntries = 10000
	DefaultCacheTTL     = 5 * time.Minute
)

// VaultConfig configures NewVault. Keys and KEK are required; the zero value
// of every other field is the secure default documented on it.
type VaultConfig struct {
	// Keys stores the subject keysets, wrapped by KEK (required).
	Keys KeyStore
	// KEK wraps new keysets (required).
	KEK KEK
	// OldKEKs are previous KEKs, so that the Vault can still unwrap keysets
	// that a KEK rotation has not re-wrapped yet. New keysets are always
	// wrapped by KEK. Default: none.
	OldKEKs []KEK

	// Clock ages cache entries. nil means clock.System.
	Clock clock.Clock

	// CacheEntries and CacheTTL bound the cache of unwrapped subject
	// keysets: at most CacheEntries keysets, each kept at most CacheTTL
	// after it was loaded (zero: DefaultCacheEntries, DefaultCacheTTL).
	// NoCache disables the cache: every Seal and Open then reads the store
	// and calls the KEK.
	//
	// Shred and key rotation through a Vault invalidate that Vault's cache at
	// once. When the store announces changes (KeyChangeNotifier: phi/pgstore,
	// phi/filestore), a shred, rotation or re-wrap made by another process
	// drops the cached keys in this one as soon as the announcement arrives
	// (well within a second), and while announcements cannot be received
	// keys are cached at most UnwatchedCacheTTL. With any other store,
	// another process keeps its cached keys until they age out: CacheTTL
	// bounds how long it can still open a subject shredded elsewhere, or keep
	// sealing under a rotated-out key.
	CacheEntries int
	CacheTTL     time.Duration
	NoCache      bool

	// Audit is the writer that Vault.Reveal records every access through.
	// nil: Reveal refuses every access.
	Audit audit.Writer
	// AuditInfo is called by Vault.Reveal to learn who is acting and how the
	// request arrived (for example from an authenticated session in ctx), to
	// fill the audit event's Actor and Origin. nil: Reveal records an event
	// without actor or origin.
	AuditInfo func(ctx context.Context) (audit.Actor, audit.Origin)

	// BlindIndexes registers the fields that Vault.BlindIndex accepts, each
	// with the function that normalises a value before it is indexed (for
	// example NormalizeEmail). A field must be registered, with the same
	// normaliser in every process, before it can be indexed. Default: none.
	BlindIndexes map[string]Normalizer
}

// settings are a validated VaultConfig with its defaults applied.
type settings struct {
	clock        clock.Clock
	cacheEntries int
	cacheTTL     time.Duration
	normalizers  map[string]Normalizer
}

// check validates cfg and applies its defaults.
func (cfg VaultConfig) check() (settings, error) {
	if cfg.Keys == nil || cfg.KEK == nil {
		return settings{}, errors.New("phi: NewVault needs a KeyStore and a KEK")
	}
	if cfg.KEK.ID() == "" {
		return settings{}, errors.New("phi: NewVault: KEK has an empty ID")
	}
	for _, k := range cfg.OldKEKs {
		if k == nil {
			return settings{}, errors.New("phi: NewVault: nil old KEK")
		}
		if k.ID() == "" {
			return settings{}, errors.New("phi: NewVault: old KEK has an empty ID")
		}
	}
	s := settings{clock: clock.OrSystem(cfg.Clock), cacheEntries: cfg.CacheEntries, cacheTTL: cfg.CacheTTL,
		normalizers: make(map[string]Normalizer, len(cfg.BlindIndexes))}
	switch {
	case cfg.CacheEntries < 0 || cfg.CacheTTL < 0:
		return settings{}, errors.New("phi: NewVault: negative cache bound")
	case cfg.NoCache && (cfg.CacheEntries != 0 || cfg.CacheTTL != 0):
		return settings{}, errors.New("phi: NewVault: NoCache with cache bounds")
	case cfg.NoCache:
		s.cacheEntries, s.cacheTTL = 0, 0
	default:
		if s.cacheEntries == 0 {
			s.cacheEntries = DefaultCacheEntries
		}
		if s.cacheTTL == 0 {
			s.cacheTTL = DefaultCacheTTL
		}
	}
	for field, normalize := range cfg.BlindIndexes {
		if len(field) == 0 || len(field) > maxFieldLen || !printableASCII(field) {
			return settings{}, fmt.Errorf("phi: NewVault: blind-index field must be 1 to %d bytes of printable ASCII", maxFieldLen)
		}
		if normalize == nil {
			return settings{}, errors.New("phi: NewVault: nil blind-index normaliser")
		}
		s.normalizers[field] = normalize
	}
	return s, nil
}
