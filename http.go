package hipaakit

import (
	"context"
	"net/http"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// ProtectConfig says what the audit step of Protect records of a request.
// Subject is required; the other fields are those of audit.MiddlewareConfig
// (nil: that package's defaults).
type ProtectConfig struct {
	// Subject returns the opaque ID of the patient (subject) whose PHI the
	// request touches, or "" (for example a search). It must return only
	// well-formed IDs: a malformed one would make the event invalid.
	Subject func(r *http.Request) string
	// Record returns the record type and ID the request acts on.
	Record func(r *http.Request) (recordType, recordID string)
	// Purpose returns why PHI is accessed (for example "treatment").
	Purpose func(r *http.Request) string
	// Action maps the request to an audit action.
	Action func(r *http.Request) audit.Action
}

// Protect installs the audit step into d.Auth and returns the handler that
// serves the routes registered on d.Auth afterwards, in the one correct
// order:
//
//	session → tenant policy → RBAC (d.Auth.Handle) → audit → route
//
// The session step authenticates the request and enforces idle and
// absolute timeouts and CSRF; the policy step refuses a session its
// tenant's policy forbids (MFA required, password expired); the RBAC step
// refuses a route the principal's roles do not permit (deny by default:
// unregistered routes are 404); the audit step records every access it
// lets through, and refuses the request when the record cannot be written.
// Register every protected route on d.Auth (Handle, HandleFunc) with its
// permission after calling Protect; Protect may be called once
// (ErrProtectTwice). A route's handler that reveals PHI through d.Vault
// with the request's context is audited with the route's pattern (the
// reveal event's origin.route).
func (d *Deployment) Protect(cfg ProtectConfig) (http.Handler, error) {
	err := ErrProtectTwice
	d.protectOnce.Do(func() {
		var mw func(http.Handler) http.Handler
		mw, err = audit.Middleware(audit.MiddlewareConfig{Writer: d.Audit, Actor: auth.ActorFromRequest, Clock: d.Clock,
			Subject: cfg.Subject, Record: cfg.Record, Purpose: cfg.Purpose, Action: cfg.Action})
		if err == nil {
			d.Auth.Use(withRoute, mw)
		}
	})
	if err != nil {
		return nil, err
	}
	return d.Auth.Handler(), nil
}

// routeKey is the context key of the matched route pattern of a request
// behind Protect.
type routeKey struct{}

// withRoute gives the handler's context the request's route pattern
// (r.Pattern, never the path, which may carry PHI), so that the Vault's
// reveal events name the route (revealAuditInfo).
func withRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, r.Pattern)))
	})
}

// routeFrom is the route pattern withRoute put in ctx ("" outside a
// request behind Protect).
func routeFrom(ctx context.Context) string {
	route, _ := ctx.Value(routeKey{}).(string)
	return route
}

// SecurityHeaders sets the headers every response carries: a strict
// Content-Security-Policy (same-origin scripts, styles and images, no
// framing), nosniff, no referrer, same-origin opener, HSTS (unless
// Config.PlainHTTP), and Cache-Control: no-store on everything except paths
// under /static/ (PHI may be in any page or API answer).
func (d *Deployment) SecurityHeaders(next http.Handler) http.Handler {
	return SecurityHeaders(next, !d.cfg.PlainHTTP)
}

// SecurityHeaders is Deployment.SecurityHeaders for a handler outside a
// deployment: hsts sets Strict-Transport-Security (only over HTTPS).
func SecurityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// Routes lists the routes registered on d.Auth (behind the handler of
// Protect), sorted by pattern, with the permission each requires and its
// PHI flag (auth.PHI): the list a compliance test checks its declared
// routes against.
func (d *Deployment) Routes() []auth.Route { return d.Auth.Routes() }
