package memstore

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
)

// errLimit reports a List call with a non-positive limit.
var errLimit = errors.New("phi/memstore: list limit must be positive")

// errRef reports a keyset whose reference is not a valid phi key reference.
var errRef = errors.New("phi/memstore: invalid key reference")

// Store is an in-memory phi.KeyStore. The zero value is not usable; call New.
type Store struct {
	clock clock.Clock

	mu         sync.Mutex
	keysets    map[string]phi.WrappedKeyset
	tombstones map[string]struct{}
}

var _ phi.KeyStore = (*Store)(nil)

// Config configures New. The zero value is the default.
type Config struct {
	// Clock stamps Created and Updated. nil means clock.System.
	Clock clock.Clock
}

// New returns an empty Store.
func New(cfg Config) *Store {
	return &Store{
		clock:      clock.OrSystem(cfg.Clock),
		keysets:    make(map[string]phi.WrappedKeyset),
		tombstones: make(map[string]struct{}),
	}
}

func clone(k phi.WrappedKeyset) phi.WrappedKeyset {
	k.Ciphertext = slices.Clone(k.Ciphertext)
	k.KeyIDs = slices.Clone(k.KeyIDs)
	return k
}

// Get returns the keyset stored under ref.
func (s *Store) Get(ctx context.Context, ref string) (phi.WrappedKeyset, error) {
	if err := ctx.Err(); err != nil {
		return phi.WrappedKeyset{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tombstones[ref]; ok {
		return phi.WrappedKeyset{}, phi.ErrShredded
	}
	k, ok := s.keysets[ref]
	if !ok {
		return phi.WrappedKeyset{}, phi.ErrKeyNotFound
	}
	return clone(k), nil
}

// Create stores k under k.Ref with Version 1.
func (s *Store) Create(ctx context.Context, k phi.WrappedKeyset) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !phi.ValidRef(k.Ref) {
		return errRef
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tombstones[k.Ref]; ok {
		return phi.ErrShredded
	}
	if _, ok := s.keysets[k.Ref]; ok {
		return phi.ErrKeyExists
	}
	now := s.clock.Now().UTC()
	k = clone(k)
	k.Version = 1
	k.Created, k.Updated = now, now
	s.keysets[k.Ref] = k
	return nil
}

// Update replaces the keyset under k.Ref if its Version is prevVersion.
func (s *Store) Update(ctx context.Context, k phi.WrappedKeyset, prevVersion int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !phi.ValidRef(k.Ref) {
		return errRef
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tombstones[k.Ref]; ok {
		return phi.ErrShredded
	}
	old, ok := s.keysets[k.Ref]
	if !ok {
		return phi.ErrKeyNotFound
	}
	if old.Version != prevVersion {
		return phi.ErrConflict
	}
	k = clone(k)
	k.Version = prevVersion + 1
	k.Created = old.Created
	k.Updated = s.clock.Now().UTC()
	s.keysets[k.Ref] = k
	return nil
}

// Shred drops the keyset under ref and leaves a tombstone.
func (s *Store) Shred(ctx context.Context, ref string) ([]uint32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var destroyed []uint32
	if k, ok := s.keysets[ref]; ok {
		destroyed = slices.Clone(k.KeyIDs)
		clear(k.Ciphertext)
		delete(s.keysets, ref)
	}
	s.tombstones[ref] = struct{}{}
	return destroyed, nil
}

// List returns up to limit keysets with Ref > after, ordered by Ref.
func (s *Store) List(ctx context.Context, after string, limit int) ([]phi.WrappedKeyset, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, errLimit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	refs := make([]string, 0, len(s.keysets))
	for ref := range s.keysets {
		if ref > after {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs)
	if len(refs) > limit {
		refs = refs[:limit]
	}
	out := make([]phi.WrappedKeyset, 0, len(refs))
	for _, ref := range refs {
		out = append(out, clone(s.keysets[ref]))
	}
	return out, nil
}
