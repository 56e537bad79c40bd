// Package policy is the declarative security policy of an auth service:
// who may do what (role-based access control) and what each tenant
// requires (MFA, passkeys for chosen roles, session limits, recovery
// methods, lockout, break-glass limits), in Go or in one policy file.
// It does no I/O beyond reading that file and imports nothing of auth;
// package auth enforces what it declares (auth.Config.RBAC and
// auth.Config.Tenants).
//
// # Role-based access control
//
// An RBAC value maps roles to permissions of the form "resource:action"
// (for example "patient:read", "lab_result:update"). It is built in Go with
// NewRBAC or loaded from a JSON or YAML policy file with Parse or Load, and
// validated either way: a role that names an undeclared permission, an
// eligible role that does not exist, a duplicate or a malformed name is an
// ErrInvalid. Users hold roles within their tenant (auth.User.Roles); a
// role the policy does not define grants nothing. Emergency roles are never
// granted by assignment, only by break-glass elevation. An RBAC value is
// immutable and safe for concurrent use.
//
// # Tenant policies
//
// A Tenant is one tenant's security policy; a Source answers the policy of
// a tenant at every request (so tightening a policy applies to sessions that
// exist), and Tenants is the in-memory Source with a default for tenants
// without a policy of their own. Every value is validated (Tenant.Validate)
// before it takes effect: limits out of range and malformed names are
// ErrInvalid, with a message that names the rule, never a secret.
//
// # The policy file
//
// Version 1, JSON (a document that starts with '{') or YAML, at most 1 MiB,
// unknown fields refused, durations in Go's syntax; see the comment on
// policyDoc in file.go for every field. The vectors in testdata
// (policy_v1.json, policy_v1.yaml) must keep loading.
package policy
