package suite

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// ErrRoutes reports route test data RoutesFrom cannot use.
var ErrRoutes = errors.New("compliance: invalid route test data")

// RouteData is the test data of one served route: what the suite cannot
// learn from the Guard.
type RouteData struct {
	// Path is the concrete request path, required when the pattern has
	// wildcards ("/patients/p-1" for "GET /patients/{id}").
	Path string
	// Body is sent with the request (as JSON) when set.
	Body string
	// Subject is the patient the route touches (see Route.Subject).
	Subject string
	// PHI marks a route as PHI although it was registered without
	// auth.PHI; a route registered with it is PHI whatever this says.
	PHI bool
	// DenyOnly, when set, is why the route may not be sent as a role that
	// is allowed to use it (it shreds, or changes other users); the suite
	// then checks only its refusals and prints the reason.
	DenyOnly string
}

// RoutesFrom builds Service.Routes from the routes a Guard serves
// (auth.Service.Routes, hipaakit.Deployment.Routes): the pattern and PHI
// flag from the route, the roles from rbac (every role of roles that has
// the route's permission), and the rest from data, keyed by pattern. A
// pattern with wildcards needs data (its concrete Path); data for a pattern
// the Guard does not serve is an error, so the two cannot drift apart.
func RoutesFrom(served []auth.Route, rbac *policy.RBAC, roles []string, data map[string]RouteData) ([]Route, error) {
	if rbac == nil {
		return nil, fmt.Errorf("%w: the RBAC policy is required", ErrRoutes)
	}
	known := map[string]bool{}
	var out []Route
	for _, sr := range served {
		known[sr.Pattern] = true
		method, path, ok := strings.Cut(sr.Pattern, " ")
		if !ok {
			return nil, fmt.Errorf("%w: served route %q has no method", ErrRoutes, sr.Pattern)
		}
		d := data[sr.Pattern]
		if d.Path == "" {
			if strings.Contains(path, "{") {
				return nil, fmt.Errorf("%w: %s has wildcards: give its concrete Path in the data", ErrRoutes, sr.Pattern)
			}
			d.Path = strings.TrimSuffix(path, "{$}")
		}
		rt := Route{Method: method, Path: d.Path, Pattern: sr.Pattern, Body: d.Body, Subject: d.Subject,
			PHI: sr.PHI || d.PHI, DenyOnly: d.DenyOnly}
		for _, role := range roles {
			if _, ok := rbac.Allows([]string{role}, "", sr.Permission); ok {
				rt.Roles = append(rt.Roles, role)
			}
		}
		out = append(out, rt)
	}
	var extra []string
	for p := range data {
		if !known[p] {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("%w: data for routes the Guard does not serve: %s", ErrRoutes, strings.Join(extra, ", "))
	}
	return out, nil
}

// checkServed: every route the Guard serves is declared (by pattern) in
// Service.Routes, marked PHI when the Guard says so, and every declared
// route is one the Guard serves.
func (r *runner) checkServed(t T, control string) {
	declared := map[string][]Route{}
	for _, rt := range r.tg.Routes {
		declared[rt.name()] = append(declared[rt.name()], rt)
	}
	served := map[string]bool{}
	for _, sr := range r.tg.Served {
		served[sr.Pattern] = true
		rts, ok := declared[sr.Pattern]
		if !ok {
			t.Errorf("%s: the handler serves %s, which Service.Routes does not declare (so nothing checks it); compliance.RoutesFrom builds the list from the Guard's", control, sr.Pattern)
			continue
		}
		for _, rt := range rts {
			if sr.PHI && !rt.PHI {
				t.Errorf("%s: %s is registered as PHI (auth.PHI) but declared without PHI", control, sr.Pattern)
			}
		}
	}
	for _, rt := range r.tg.Routes {
		if !served[rt.name()] {
			t.Errorf("%s: Service.Routes declares %s, which the Guard does not serve (a stale or mistyped pattern; give Route.Pattern as registered)", control, rt.name())
		}
	}
}
