package auth

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Principal is the authenticated user of a request, as established by
// the session middleware from the server-side session and the user store.
// It never comes from request headers, claims or query parameters.
type Principal struct {
	UserID   string
	TenantID string
	// SessionID is the session's opaque reference (never its token).
	SessionID string
	// Roles are the user's roles as stored in the user store when the
	// request arrived (so role changes apply on the next request). During
	// break-glass access the emergency role is added (see Emergency).
	Roles []string
	// MFA reports that the session was established with a second factor.
	MFA bool
	// AuthenticatedAt is when the user last proved who they are.
	AuthenticatedAt time.Time
	// Emergency is the active break-glass grant, if any.
	Emergency *EmergencyGrant
	// Admin marks an administrative identity.
	Admin bool

	roleLabel string
}

// Actor returns the audit actor for p.
func (p *Principal) Actor() audit.Actor {
	a := audit.Actor{UserID: p.UserID, TenantID: p.TenantID, SessionID: p.SessionID, Role: p.roleLabel}
	if a.Role == "" && len(p.Roles) > 0 {
		a.Role = strings.Join(p.Roles, ",")
	}
	if g := p.Emergency; g != nil {
		a.Role = g.Role
		a.Emergency = true
		a.EmergencyReason = g.Reason
	}
	return a
}

// requestState is what the session middleware stores in a request's context.
// One allocation carries the principal and the session it came from.
type requestState struct {
	p         Principal
	s         Session
	token     string // the presented token; used for CSRF derivation, never printed
	policy    policy.Tenant
	viaCookie bool
	// pwChangedAt is the user's PasswordChangedAt, for password expiry.
	pwChangedAt time.Time
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// PrincipalFromContext returns the principal the session middleware attached
// to ctx. The returned value must not be modified.
func PrincipalFromContext(ctx context.Context) (*Principal, bool) {
	st := stateFrom(ctx)
	if st == nil {
		return nil, false
	}
	return &st.p, true
}

// ActorFromContext returns the audit actor of the request whose context is ctx.
func ActorFromContext(ctx context.Context) (audit.Actor, bool) {
	p, ok := PrincipalFromContext(ctx)
	if !ok {
		return audit.Actor{}, false
	}
	return p.Actor(), true
}

// ActorFromRequest returns the audit actor of an authenticated request: user,
// tenant, role(s), the session's opaque ID (never its token) and the
// break-glass flag and reason. It has the shape audit's HTTP middleware takes.
func ActorFromRequest(r *http.Request) (audit.Actor, bool) {
	return ActorFromContext(r.Context())
}
