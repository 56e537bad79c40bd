package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// UserStore persists users. Implementations are safe for concurrent use and
// must pass the conformance suite in package auth/authtest. The package
// provides MemoryUserStore, FileUserStore (the embedded default) and, in
// auth/pgauth, a PostgreSQL store.
//
// Contract:
//   - Every method validates its input with User.Validate or the ID and name
//     rules and returns an error matching ErrInvalidUser for bad input.
//   - Users returned are fresh copies owned by the caller.
//   - Create stores u with Version 1 (u.Version is ignored and set to 1 on
//     success). It fails with ErrUserExists when u.ID is taken (by any user,
//     removed ones included) or when another user of u.TenantID that is not
//     removed has the name u.Name.
//   - Get returns the user with the ID, whatever its status, or
//     ErrUserNotFound.
//   - GetByName returns the user of the tenant with the canonical name that is
//     not removed, or ErrUserNotFound.
//   - Update replaces the stored user whose ID is u.ID if, and only if, its
//     stored Version equals u.Version (compare and swap); on success it
//     stores and sets u.Version+1. It fails with ErrUserNotFound for an
//     unknown ID, ErrVersionConflict when the versions differ, ErrUserExists
//     when the name is taken by another user of the tenant, and ErrInvalidUser
//     when u.TenantID differs from the stored one (tenants never change) or
//     when a removed user would be made active again.
//   - List returns the users of the tenant, removed ones included, sorted by
//     Name and then ID.
//
// Stores never delete users: removal is a status, so IDs stay unique forever
// and audit trails keep resolving.
type UserStore interface {
	Create(ctx context.Context, u *User) error
	Get(ctx context.Context, id string) (*User, error)
	GetByName(ctx context.Context, tenantID, name string) (*User, error)
	Update(ctx context.Context, u *User) error
	List(ctx context.Context, tenantID string) ([]*User, error)
}

// SessionRevoker ends sessions. The session store of package auth satisfies
// it; Users calls RevokeUser when a user is disabled or removed, and when a
// password or second factor changes, so that the change takes effect at once.
//
// RevokeUser deletes every server-side session of userID and returns nil only
// once none of them can be used any more. Revoking a user without sessions
// is not an error. When RevokeUser fails, the operation that called it
// reports the failure; the user's stored status has already changed, and the
// session middleware's per-request check of the user's status (see
// UserStore.Get and User.Active) keeps refusing the old sessions.
type SessionRevoker interface {
	RevokeUser(ctx context.Context, userID string) error
}

// SessionRevokerFunc adapts a function to a SessionRevoker.
type SessionRevokerFunc func(ctx context.Context, userID string) error

// RevokeUser calls f.
func (f SessionRevokerFunc) RevokeUser(ctx context.Context, userID string) error {
	return f(ctx, userID)
}

// CheckUpdate applies the rules UserStore.Update imposes on a change from
// stored to u, other than name uniqueness: same tenant, matching version, no
// return from removal. Store implementations call it.
func CheckUpdate(stored, u *User) error {
	if stored.TenantID != u.TenantID {
		return fmt.Errorf("%w: tenant cannot change", ErrInvalidUser)
	}
	if stored.Version != u.Version {
		return ErrVersionConflict
	}
	if stored.Status == StatusRemoved && u.Status != StatusRemoved {
		return fmt.Errorf("%w: a removed user cannot be restored", ErrInvalidUser)
	}
	return nil
}

// MemoryUserStore is a UserStore in memory, for tests and for single-process
// deployments that load users from elsewhere. The zero value is not usable;
// call NewMemoryUserStore.
type MemoryUserStore struct {
	mu   sync.RWMutex
	byID map[string]*User
	// byName maps tenantID+"\x00"+name to the ID of the user that is not removed.
	byName map[string]string
}

var _ UserStore = (*MemoryUserStore)(nil)

// NewMemoryUserStore returns an empty store.
func NewMemoryUserStore() *MemoryUserStore {
	return &MemoryUserStore{byID: map[string]*User{}, byName: map[string]string{}}
}

func nameKey(tenantID, name string) string { return tenantID + "\x00" + name }

// Create implements UserStore.
func (s *MemoryUserStore) Create(ctx context.Context, u *User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkCreate(u); err != nil {
		return err
	}
	u.Version = 1
	s.put(nil, u.Clone())
	return nil
}

// checkCreate applies Create's uniqueness rules; s.mu is held.
func (s *MemoryUserStore) checkCreate(u *User) error {
	if _, ok := s.byID[u.ID]; ok {
		return ErrUserExists
	}
	if u.Status != StatusRemoved {
		if _, ok := s.byName[nameKey(u.TenantID, u.Name)]; ok {
			return ErrUserExists
		}
	}
	return nil
}

// checkUpdate applies Update's rules; s.mu is held. It returns the stored user.
func (s *MemoryUserStore) checkUpdate(u *User) (*User, error) {
	stored, ok := s.byID[u.ID]
	if !ok {
		return nil, ErrUserNotFound
	}
	if err := CheckUpdate(stored, u); err != nil {
		return nil, err
	}
	if u.Status != StatusRemoved {
		if id, taken := s.byName[nameKey(u.TenantID, u.Name)]; taken && id != u.ID {
			return nil, ErrUserExists
		}
	}
	return stored, nil
}

// put replaces prev (nil for a new user) by u in the indexes; s.mu is held.
func (s *MemoryUserStore) put(prev, u *User) {
	if prev != nil && prev.Status != StatusRemoved {
		delete(s.byName, nameKey(prev.TenantID, prev.Name))
	}
	if u.Status != StatusRemoved {
		s.byName[nameKey(u.TenantID, u.Name)] = u.ID
	}
	s.byID[u.ID] = u
}

// Get implements UserStore.
func (s *MemoryUserStore) Get(ctx context.Context, id string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !ValidUserID(id) {
		return nil, ErrUserNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.byID[id]
	if !ok {
		return nil, ErrUserNotFound
	}
	return u.Clone(), nil
}

// GetByName implements UserStore.
func (s *MemoryUserStore) GetByName(ctx context.Context, tenantID, name string) (*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byName[nameKey(tenantID, name)]
	if !ok {
		return nil, ErrUserNotFound
	}
	return s.byID[id].Clone(), nil
}

// Update implements UserStore.
func (s *MemoryUserStore) Update(ctx context.Context, u *User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, err := s.checkUpdate(u)
	if err != nil {
		return err
	}
	u.Version++
	s.put(stored, u.Clone())
	return nil
}

// List implements UserStore.
func (s *MemoryUserStore) List(ctx context.Context, tenantID string) ([]*User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*User
	for _, u := range s.byID {
		if u.TenantID == tenantID {
			out = append(out, u.Clone())
		}
	}
	SortUsers(out)
	return out, nil
}

// SortUsers sorts users by Name, then ID, the order UserStore.List returns.
func SortUsers(us []*User) {
	slices.SortFunc(us, func(a, b *User) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
