package suite

import "net/http"

// ControlPasskey is checked when Spec.PasskeyRoles (Service.PasskeyRoles) is set: the roles
// whose sessions the service's tenant policy requires to be established
// with a phishing-resistant factor (a passkey, NIST SP 800-63B AAL3; with
// hipaakit, policy.Tenant.PasskeyRoles).
const ControlPasskey = "164.312(d) person or entity authentication, phishing-resistant factor"

// checkPasskey: for each role of Service.PasskeyRoles, a session of that
// role established without a passkey (Service.NonPasskeyLogin: the
// password and any other factor) is refused with 403 on every declared
// route the role may use. A route that serves it fails the control, naming
// the route and the role; so does a passkey role no route allows (nothing
// would show the requirement).
func (r *runner) checkPasskey(t T, control string) {
	for _, role := range r.tg.PasskeyRoles {
		if !contains(r.tg.Roles, role) {
			t.Errorf("%s: Service.PasskeyRoles names role %q, which is not in Service.Roles", control, role)
			continue
		}
		var s *Session
		for _, rt := range r.tg.Routes {
			if !contains(rt.Roles, role) || !r.sendable(rt) {
				continue
			}
			if s == nil {
				v := r.h.NonPasskeyLogin(t, role)
				s = &v
			}
			if res := r.do(t, rt, s, nil); res.status != http.StatusForbidden {
				t.Errorf("%s: %s as %s with a session established without a passkey returned %s, want 403 (the tenant requires a passkey for role %s)",
					control, rt.name(), role, statusText(res.status), role)
			}
		}
		if s == nil {
			t.Errorf("%s: no route of Service.Routes allows role %s, so its passkey requirement is not shown", control, role)
		}
	}
}
