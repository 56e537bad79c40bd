package policy

import (
	"fmt"
	"slices"
	"time"
)

// Permission is "resource:action": two non-empty words of lower-case ASCII
// letters, digits, '_', '-' and '.', joined by one colon.
type Permission string

// Valid reports whether p is well formed.
func (p Permission) Valid() bool {
	if len(p) > 128 {
		return false
	}
	colon := -1
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == ':':
			if colon >= 0 {
				return false
			}
			colon = i
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return colon > 0 && colon < len(p)-1
}

// Role is a named set of permissions.
type Role struct {
	Name        string
	Permissions []Permission
	// Emergency marks a break-glass role: it is granted only by elevation,
	// never by assignment to a user.
	Emergency bool
	// EligibleRoles lists the (non-emergency) roles whose holders may
	// elevate to this emergency role.
	EligibleRoles []string
	// MaxDuration bounds an elevation (default one hour, at most 24
	// hours).
	MaxDuration time.Duration
}

// defaultEmergencyDuration bounds an emergency role without MaxDuration.
const defaultEmergencyDuration = time.Hour

type compiledRole struct {
	Role
	perms map[Permission]struct{}
}

// RBAC is a validated, immutable role policy. It is safe for concurrent use.
type RBAC struct {
	perms map[Permission]struct{}
	roles map[string]*compiledRole
}

// NewRBAC validates the declared permissions and the roles and returns the
// policy. Every permission a role names must be declared.
func NewRBAC(permissions []Permission, roles []Role) (*RBAC, error) {
	r := &RBAC{perms: map[Permission]struct{}{}, roles: map[string]*compiledRole{}}
	for _, p := range permissions {
		if !p.Valid() {
			return nil, fmt.Errorf("%w: malformed permission (want resource:action)", ErrInvalid)
		}
		if _, dup := r.perms[p]; dup {
			return nil, fmt.Errorf("%w: permission %s declared twice", ErrInvalid, p)
		}
		r.perms[p] = struct{}{}
	}
	for _, role := range roles {
		if !ValidRole(role.Name) {
			return nil, fmt.Errorf("%w: malformed role name", ErrInvalid)
		}
		if _, dup := r.roles[role.Name]; dup {
			return nil, fmt.Errorf("%w: role %s defined twice", ErrInvalid, role.Name)
		}
		c := &compiledRole{Role: role, perms: map[Permission]struct{}{}}
		c.Permissions = slices.Clone(role.Permissions)
		c.EligibleRoles = slices.Clone(role.EligibleRoles)
		for _, p := range role.Permissions {
			if _, ok := r.perms[p]; !ok {
				return nil, fmt.Errorf("%w: role %s names an undeclared permission", ErrInvalid, role.Name)
			}
			c.perms[p] = struct{}{}
		}
		if !role.Emergency && (len(role.EligibleRoles) > 0 || role.MaxDuration != 0) {
			return nil, fmt.Errorf("%w: role %s has emergency settings but is not an emergency role", ErrInvalid, role.Name)
		}
		if role.MaxDuration < 0 || role.MaxDuration > 24*time.Hour {
			return nil, fmt.Errorf("%w: role %s: emergency duration out of range", ErrInvalid, role.Name)
		}
		if role.Emergency && c.MaxDuration == 0 {
			c.MaxDuration = defaultEmergencyDuration
		}
		r.roles[role.Name] = c
	}
	for _, c := range r.roles {
		if c.Emergency && len(c.EligibleRoles) == 0 {
			return nil, fmt.Errorf("%w: emergency role %s has no eligible roles", ErrInvalid, c.Name)
		}
		for _, e := range c.EligibleRoles {
			er, ok := r.roles[e]
			if !ok {
				return nil, fmt.Errorf("%w: role %s names an unknown eligible role", ErrInvalid, c.Name)
			}
			if er.Emergency {
				return nil, fmt.Errorf("%w: role %s: an emergency role cannot be eligible", ErrInvalid, c.Name)
			}
		}
	}
	return r, nil
}

// declared reports whether p is a declared permission.
func (r *RBAC) Declares(p Permission) bool {
	_, ok := r.perms[p]
	return ok
}

// Role returns the definition of the named role.
func (r *RBAC) Role(name string) (Role, bool) {
	c, ok := r.roles[name]
	if !ok {
		return Role{}, false
	}
	out := c.Role
	out.Permissions = slices.Clone(c.Permissions)
	out.EligibleRoles = slices.Clone(c.EligibleRoles)
	return out, true
}

// Roles returns the names of the defined roles, sorted.
func (r *RBAC) Roles() []string {
	out := make([]string, 0, len(r.roles))
	for n := range r.roles {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// checkAssignable returns an ErrInvalid error when a role in roles is
// not defined or is an emergency role. Call it before storing a user's roles.
func (r *RBAC) CheckAssignable(roles []string) error {
	for _, n := range roles {
		c, ok := r.roles[n]
		if !ok {
			return fmt.Errorf("%w: unknown role", ErrInvalid)
		}
		if c.Emergency {
			return fmt.Errorf("%w: emergency roles cannot be assigned", ErrInvalid)
		}
	}
	return nil
}

// Allows reports whether a principal holding roles (with emergencyRole
// active, or "" for none) has permission p, and which role grants it.
// Undefined roles grant nothing; emergency roles grant only while active.
func (r *RBAC) Allows(roles []string, emergencyRole string, p Permission) (string, bool) {
	for _, n := range roles {
		c, ok := r.roles[n]
		if !ok || (c.Emergency && n != emergencyRole) {
			continue
		}
		if _, ok := c.perms[p]; ok {
			return n, true
		}
	}
	return "", false
}

// eligible reports whether a holder of roles may elevate to emergency role
// name, and the longest elevation allowed.
func (r *RBAC) Eligible(roles []string, name string) (time.Duration, bool) {
	c, ok := r.roles[name]
	if !ok || !c.Emergency {
		return 0, false
	}
	for _, n := range roles {
		if slices.Contains(c.EligibleRoles, n) {
			if h, ok := r.roles[n]; ok && !h.Emergency {
				return c.MaxDuration, true
			}
		}
	}
	return 0, false
}
