package suite

import (
	"net/http"
)

// crossSite is the origin a forged request claims.
const crossSite = "https://compliance-attacker.invalid"

// checkCSRF: a state-changing request that carries the session's cookies
// but not its headers (where the CSRF token travels), from another site,
// must not succeed. Against a live deployment the request is the session
// keep-alive of auth.Service, which changes nothing but the session's last
// activity, plus the routes the check file marks "send".
func (r *runner) checkCSRF(t T, control string) {
	type probe struct {
		rt   Route
		role string
	}
	var probes []probe
	for _, rt := range r.tg.Routes {
		if !safeMethod(rt.Method) && len(rt.Roles) > 0 && r.sendable(rt) {
			probes = append(probes, probe{rt, rt.Roles[0]})
		}
	}
	if r.remote != nil {
		if role, _, ok := r.anyRoleWithRoute(); ok {
			probes = append(probes, probe{Route{Method: http.MethodPost, Path: r.remote.f.AuthPrefix + "/session/keepalive",
				Pattern: "POST " + r.remote.f.AuthPrefix + "/session/keepalive"}, role})
		}
	}
	if len(probes) == 0 {
		t.Errorf("%s: no state-changing route to check CSRF protection with", control)
		return
	}
	for _, p := range probes {
		s := r.session(t, p.role)
		forged := Session{UserID: s.UserID, Cookies: s.Cookies} // the cookies a browser would attach, nothing else
		res := r.do(t, p.rt, &forged, func(req *http.Request) {
			req.Header.Set("Origin", crossSite)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		})
		if ok2xx(res.status) {
			t.Errorf("%s: %s as %s from another site, with the session cookie but no CSRF token, returned %s, want it refused",
				control, p.rt.name(), p.role, statusText(res.status))
		}
	}
}
