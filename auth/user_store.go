package auth

import (
	"context"
)

// UserStore persists users. Implementations are safe for concurrent use and
// must pass the conformance suite in package auth/authtest. The module
// provides auth/memstore, auth/filestore (the embedded default) and
// auth/pgauth (PostgreSQL).
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
type sessionRevoker interface {
	RevokeUser(ctx context.Context, userID string) error
}

// SessionRevokerFunc adapts a function to a SessionRevoker.
type sessionRevokerFunc func(ctx context.Context, userID string) error

// RevokeUser calls f.
func (f sessionRevokerFunc) RevokeUser(ctx context.Context, userID string) error {
	return f(ctx, userID)
}
