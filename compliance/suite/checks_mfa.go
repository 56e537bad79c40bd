package suite

import (
	"net/http"
)

// checkMFA: when the tenant requires a second factor, a session that
// completed only the password step is refused with 403 on every declared
// route. 401 does not count: it would mean PasswordLogin produced no valid
// session, which proves nothing about the MFA requirement.
func (r *runner) checkMFA(t T, control string) {
	sessions := map[string]Session{}
	for _, rt := range r.tg.Routes {
		if !r.sendable(rt) {
			continue // were it not refused, it would change a live deployment
		}
		role := r.tg.Roles[0]
		if len(rt.Roles) > 0 {
			role = rt.Roles[0]
		}
		s, ok := sessions[role]
		if !ok {
			s = r.h.PasswordLogin(t, role)
			sessions[role] = s
		}
		if res := r.do(t, rt, &s, nil); res.status != http.StatusForbidden {
			t.Errorf("%s: %s as %s with a password-only session returned %s, want 403 (the tenant requires MFA)",
				control, rt.name(), role, statusText(res.status))
		}
	}
}
