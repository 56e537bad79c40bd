package auth

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// AttributeCheck is an attribute rule evaluated after the role check of a
// route, for ownership and minimum-necessary rules (for example "a mobile
// worker sees only the records they collected"). It returns false to deny
// (403) and an error when it cannot decide (503). It must not write to w.
type AttributeCheck func(r *http.Request, p *Principal) (bool, error)

// RouteOption configures one route (Service.Handle).
type RouteOption interface{ apply(*route) }

type routeOptionFunc func(*route)

func (f routeOptionFunc) apply(r *route) { f(r) }

// Sensitive marks a route that requires a recent authentication (see
// SessionConfig.ReauthAfter); older sessions get 401
// "reauthentication_required".
func Sensitive() RouteOption { return routeOptionFunc(func(r *route) { r.sensitive = true }) }

// SubjectParam names the path wildcard of a route (for example "id" in
// "GET /patients/{id}") that holds the subject whose records the request
// asks for. The events of attribute-check denials and errors on the route
// and of permission denials name it in Target.Subject (at most 256 bytes), so that a per-patient
// report shows who tried to reach the patient's records.
func SubjectParam(name string) RouteOption {
	return routeOptionFunc(func(r *route) { r.subject = name })
}

// PHI marks a route that reads or writes protected health information.
// Its answers carry Cache-Control: no-store (set when the handler writes
// its header, over anything the handler set), and Service.Routes reports
// the flag, so that the compliance suite can check that the route is
// declared as a PHI route (audited, never cached).
func PHI() RouteOption { return routeOptionFunc(func(r *route) { r.phi = true }) }

// Check adds an attribute rule to a route. Several checks must all pass.
func Check(c AttributeCheck) RouteOption {
	return routeOptionFunc(func(r *route) { r.checks = append(r.checks, c) })
}

// Guard is the RBAC step of the chain: a router whose every route is
// registered with the permission it requires. It is deny by default: a
// request that matches no route gets 404, one whose principal lacks the
// permission 403, and both are audited as permission_denied. It must run
// inside SessionManager.Middleware.
type rbacGuard struct {
	// AuditGrants records every granted decision too (action
	// permission_granted). When that record cannot be stored the request
	// is refused with 503 (no audit, no access). Denials are always audited.
	AuditGrants bool

	sm   *sessionManager
	rbac atomic.Pointer[policy.RBAC]
	mux  *http.ServeMux

	mu     sync.Mutex
	routes map[string]Route // by pattern
	mws    []func(http.Handler) http.Handler
}

// newGuard returns a Guard that authorises against rbac and records to the
// session manager's audit writer.
func newGuard(sm *sessionManager, rbac *policy.RBAC) *rbacGuard {
	g := &rbacGuard{sm: sm, mux: http.NewServeMux(), routes: map[string]Route{}}
	g.rbac.Store(rbac)
	g.mux.HandleFunc("/", g.notFound)
	return g
}

// RBAC returns the policy in force.
func (g *rbacGuard) RBAC() *policy.RBAC { return g.rbac.Load() }

// SetRBAC replaces the policy (for example after reloading the policy
// file); it applies from the next request. It fails, changing nothing, when
// a registered route needs a permission the new policy does not declare.
func (g *rbacGuard) SetRBAC(r *policy.RBAC) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rt := range g.routes {
		if !r.Declares(rt.Permission) {
			return fmt.Errorf("%w: route %s needs permission %s, which the new policy does not declare", policy.ErrInvalid, rt.Pattern, rt.Permission)
		}
	}
	g.rbac.Store(r)
	return nil
}

// Use appends middleware applied, inside the authorisation check, to the
// routes registered after the call (for example the audit package's
// access-recording middleware).
func (g *rbacGuard) Use(mw ...func(http.Handler) http.Handler) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mws = append(g.mws, mw...)
}

// Handle registers h for pattern (http.ServeMux syntax, for example
// "GET /patients/{id}"), reachable only with permission perm. Like
// http.ServeMux.Handle it panics on a programming error: a malformed or
// undeclared permission, a nil handler, or a pattern already registered
// (the pattern "/" is reserved for the deny-all fallback).
func (g *rbacGuard) Handle(pattern string, perm policy.Permission, h http.Handler, opts ...RouteOption) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rt := g.newRoute("Handle", perm, h, opts)
	g.mux.Handle(pattern, rt)
	g.routes[pattern] = Route{Pattern: pattern, Permission: perm, PHI: rt.phi, Sensitive: rt.sensitive}
}

// Route is one route of the guard as Service.Routes lists it: the pattern
// given to Handle, the permission it requires and its options.
type Route struct {
	Pattern    string // http.ServeMux syntax, for example "GET /patients/{id}"
	Permission policy.Permission
	PHI        bool // registered with the PHI option
	Sensitive  bool // registered with the Sensitive option
}

// list returns the registered routes sorted by pattern.
func (g *rbacGuard) list() []Route {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Route, 0, len(g.routes))
	for _, rt := range g.routes {
		out = append(out, rt)
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Pattern, b.Pattern) })
	return out
}

// newRoute builds the authorisation step for perm in front of h and the
// middleware added by Use so far. It panics on a nil handler or an
// undeclared permission (a programming error, as in http.ServeMux). g.mu
// is held.
func (g *rbacGuard) newRoute(caller string, perm policy.Permission, h http.Handler, opts []RouteOption) *route {
	if h == nil {
		panic("auth: Guard." + caller + ": nil handler")
	}
	if !perm.Valid() || !g.RBAC().Declares(perm) {
		panic("auth: Guard." + caller + ": permission is not declared in the RBAC policy")
	}
	rt := &route{g: g, perm: perm}
	for _, o := range opts {
		o.apply(rt)
	}
	for i := len(g.mws) - 1; i >= 0; i-- {
		h = g.mws[i](h)
	}
	rt.next = h
	return rt
}

// HandleFunc registers f like Handle.
func (g *rbacGuard) HandleFunc(pattern string, perm policy.Permission, f func(http.ResponseWriter, *http.Request), opts ...RouteOption) {
	g.Handle(pattern, perm, http.HandlerFunc(f), opts...)
}

// ServeHTTP routes r.
func (g *rbacGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

func (g *rbacGuard) notFound(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if st == nil {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	g.sm.deny(r.Context(), r, st.p.Actor(), "no_route")
	writeError(w, http.StatusNotFound, codeNotFound)
}

// Can reports whether the request's principal holds perm under the policy
// in force (for decisions inside a handler). It records nothing.
func (g *rbacGuard) Can(r *http.Request, perm policy.Permission) bool {
	st := stateFrom(r.Context())
	if st == nil {
		return false
	}
	_, ok := g.RBAC().Allows(st.p.Roles, emergencyRole(&st.p), perm)
	return ok
}

func emergencyRole(p *Principal) string {
	if p.Emergency != nil {
		return p.Emergency.Role
	}
	return ""
}

// Elevate starts break-glass access for the request's session: role must
// be an emergency role the user is eligible for, reason is mandatory and d
// must not exceed the role's MaxDuration (zero means the maximum). It
// rotates the session token and returns the access record and the new CSRF
// token. Refusals are audited and match refusal "emergency_denied".
func (g *rbacGuard) Elevate(w http.ResponseWriter, r *http.Request, role, reason string, d time.Duration) (EmergencyAccess, string, error) {
	st := stateFrom(r.Context())
	if st == nil {
		return EmergencyAccess{}, "", ErrInvalidSession
	}
	max, ok := g.RBAC().Eligible(st.p.Roles, role)
	minChars, minWords, _ := st.policy.EmergencyLimits()
	switch {
	case !ok:
		g.sm.deny(r.Context(), r, st.p.Actor(), "emergency_not_eligible")
		return EmergencyAccess{}, "", fmt.Errorf("%w: not eligible", errEmergencyDenied)
	case !validReason(reason, minChars, minWords):
		g.sm.deny(r.Context(), r, st.p.Actor(), "emergency_reason_missing")
		return EmergencyAccess{}, "", fmt.Errorf("%w: a reason is required", errEmergencyDenied)
	case d < 0 || d > max:
		g.sm.deny(r.Context(), r, st.p.Actor(), "emergency_duration")
		return EmergencyAccess{}, "", fmt.Errorf("%w: duration out of bounds", errEmergencyDenied)
	case d == 0:
		d = max
	}
	return g.sm.beginEmergency(w, r, st, role, reason, d)
}

type route struct {
	g         *rbacGuard
	perm      policy.Permission
	sensitive bool
	phi       bool
	checks    []AttributeCheck
	subject   string // path wildcard naming the requested subject (SubjectParam)
	next      http.Handler
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g, sm := rt.g, rt.g.sm
	ctx := r.Context()
	st := stateFrom(ctx)
	if st == nil {
		writeError(w, http.StatusUnauthorized, codeUnauthenticated)
		return
	}
	role, ok := g.RBAC().Allows(st.p.Roles, emergencyRole(&st.p), rt.perm)
	if !ok {
		rt.denyCheck(r, st, "", "no_permission")
		writeError(w, http.StatusForbidden, codeForbidden)
		return
	}
	if rt.sensitive && !sm.recentAuth(st) {
		sm.deny(ctx, r, rt.actor(st, role), "reauthentication_required")
		writeError(w, http.StatusUnauthorized, codeReauth)
		return
	}
	for _, c := range rt.checks {
		allowed, err := c(r, &st.p)
		if err != nil {
			sm.logError(ctx, "attribute check", err)
			rt.denyCheck(r, st, role, "attribute_check_error")
			writeError(w, http.StatusServiceUnavailable, codeUnavailable)
			return
		}
		if !allowed {
			rt.denyCheck(r, st, role, "attribute_check")
			writeError(w, http.StatusForbidden, codeForbidden)
			return
		}
	}
	if g.AuditGrants {
		e := sm.event(r, rt.actor(st, role), audit.ActionPermissionGranted, audit.OutcomeSuccess, string(rt.perm))
		if err := sm.audit.Write(ctx, e); err != nil {
			sm.logError(ctx, "audit write", err)
			writeError(w, http.StatusServiceUnavailable, codeUnavailable)
			return
		}
	}
	if rt.phi {
		w = &noStoreWriter{ResponseWriter: w}
	}
	rt.next.ServeHTTP(w, r)
}

// noStoreWriter sets Cache-Control: no-store on the answer of a PHI route,
// whatever the handler set before writing it.
type noStoreWriter struct {
	http.ResponseWriter
	done bool
}

func (w *noStoreWriter) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.Header().Set("Cache-Control", "no-store")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noStoreWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer (Flush,
// deadlines).
func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// denyCheck records a refusal for want of the permission (reason
// no_permission), by an attribute check (attribute_check) or for an
// attribute check's failure to decide (attribute_check_error), naming the
// permission and, when the route has a SubjectParam, the requested subject.
func (rt *route) denyCheck(r *http.Request, st *requestState, role, reason string) {
	sm := rt.g.sm
	e := sm.event(r, rt.actor(st, role), audit.ActionPermissionDenied, audit.OutcomeFailure, reason)
	e.Attrs = map[string]string{"permission": string(rt.perm)}
	if rt.subject != "" {
		e.Target.Subject = truncate(r.PathValue(rt.subject), 256)
	}
	if err := sm.audit.Write(r.Context(), e); err != nil {
		sm.logError(r.Context(), "audit write", err)
	}
}

// actor is the audit actor of a decision; role, when known, is the role
// that granted the permission.
func (rt *route) actor(st *requestState, role string) audit.Actor {
	a := st.p.Actor()
	if role != "" && !a.Emergency {
		a.Role = role
	}
	return a
}
