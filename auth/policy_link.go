package auth

import (
	"errors"
	"reflect"

	"github.com/hipaakit/hipaakit/auth/policy"
)

// --- One source of tenant policy (Authenticator and SessionManager) ---

// errPolicySourceConflict reports an Authenticator and a SessionManager
// wired together (Config.Sessions) that were given different tenant policy
// sources. The policy the login step enforces (MFA) and the policy the
// request middleware enforces must be the same: set Config.Tenants (or
// SessionManager.Policies) only, and the other reads it.
var errPolicySourceConflict = errors.New("auth: Config.Tenants and SessionManager.Policies are different tenant policy sources; set one of them (an Authenticator's SessionManager reads Config.Tenants)")

// linkTenantPolicies makes cfg.Tenants and the service's SessionManager m
// share one policy source: a source set on only
// one side is used by both, two different sources are refused. The manager
// keeps the link, so that clearing SessionManager.Policies later cannot
// drop the policy, and setting a different one makes its requests fail
// (ErrPolicySourceConflict) rather than run under another policy.
func linkTenantPolicies(cfg *Config, m *sessionManager) error {
	if m == nil {
		return nil
	}
	cur, err := m.policySource()
	if err != nil {
		return err
	}
	switch {
	case cfg.Tenants == nil:
		cfg.Tenants = cur
	case cur != nil && !samePolicySource(cur, cfg.Tenants):
		return errPolicySourceConflict
	}
	if cfg.Tenants != nil {
		src := cfg.Tenants
		m.linked.Store(&src)
	}
	return nil
}

// policySource returns the tenant policy source the manager applies:
// Policies, or the source of the Authenticator it is linked to; both set
// and different is ErrPolicySourceConflict.
func (m *sessionManager) policySource() (policy.Source, error) {
	l := m.linked.Load()
	switch {
	case l == nil:
		return m.Policies, nil
	case m.Policies == nil || samePolicySource(m.Policies, *l):
		return *l, nil
	}
	return nil, errPolicySourceConflict
}

// samePolicySource reports whether a and b are the same source, without
// panicking on sources of a non-comparable type (those are the same only
// when they are the same value, which cannot be told: not the same).
func samePolicySource(a, b policy.Source) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || !ta.Comparable() {
		return false
	}
	return a == b
}
