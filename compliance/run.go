package compliance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// The controls the suite checks, as they name its subtests.
const (
	ControlAccess        = "164.312(a)(1) access control"
	ControlEmergency     = "164.312(a)(2)(ii) emergency access"
	ControlAutoLogoff    = "164.312(a)(2)(iii) automatic logoff"
	ControlAudit         = "164.312(b) audit controls"
	ControlIntegrity     = "164.312(c)(1) integrity of the audit trail"
	ControlAuthn         = "164.312(d) person authentication"
	ControlMFA           = "164.312(d) person or entity authentication, second factor"
	ControlTransmission  = "164.312(e)(1) transmission and caching"
	ControlConfidential  = "164.306(a)(1) confidentiality of PHI"
	defaultRequestBudget = 10 * time.Second
)

// Controls lists the controls Run checks, in the order it checks them.
func Controls() []string {
	return []string{ControlAccess, ControlAudit, ControlTransmission, ControlConfidential,
		ControlEmergency, ControlAuthn, ControlMFA, ControlAutoLogoff, ControlIntegrity}
}

// Run checks the service described by tg, one subtest per control. It fails
// t (not just the subtest) when tg lacks a required field.
func Run(t *testing.T, tg Service) {
	t.Helper()
	if tg.Handler == nil || len(tg.Routes) == 0 || len(tg.Roles) == 0 || tg.Login == nil {
		t.Fatal("compliance: Service needs Handler, Routes, Roles and Login")
	}
	for _, rt := range tg.Routes {
		for _, role := range rt.Roles {
			if !contains(tg.Roles, role) {
				t.Fatalf("compliance: route %s allows role %q, which is not in Service.Roles", rt.name(), role)
			}
		}
	}
	r := &runner{tg: tg, sessions: map[string]Session{}}
	r.control(t, ControlAccess, nil, r.checkAccess)
	r.control(t, ControlAudit, []hook{{"Events", tg.Events != nil}}, r.checkAudit)
	r.control(t, ControlTransmission, nil, r.checkHeaders)
	r.control(t, ControlConfidential, []hook{{"SeedCanary", tg.SeedCanary != nil}, {"Logs", tg.Logs != nil},
		{"CanaryRole", tg.CanaryRole != ""}}, r.checkCanary)
	r.control(t, ControlEmergency, []hook{{"Emergency", tg.Emergency != nil}, {"EmergencyRole", tg.EmergencyRole != ""},
		{"EmergencyRoute", tg.EmergencyRoute.Path != ""}, {"Events", tg.Events != nil}}, r.checkEmergency)
	r.control(t, ControlAuthn, []hook{{"Logout", tg.Logout.Path != ""}, {"ChangePassword", tg.ChangePassword != nil},
		{"TOTP", tg.TOTP != nil}, {"NewCredentials", tg.NewCredentials != nil}, {"TryLogin", tg.TryLogin != nil},
		{"LockoutThreshold", tg.LockoutThreshold > 0}}, r.checkAuthn)
	r.control(t, ControlMFA, []hook{{"RequireMFA", tg.RequireMFA}, {"PasswordLogin", tg.PasswordLogin != nil}}, r.checkMFA)
	r.control(t, ControlAutoLogoff, []hook{{"Clock", tg.Clock != nil}, {"IdleTimeout", tg.IdleTimeout > 0},
		{"AbsoluteTimeout", tg.AbsoluteTimeout > tg.IdleTimeout}}, r.checkAutoLogoff)
	// Last, so that it covers the events every other check produced.
	r.control(t, ControlIntegrity, []hook{{"VerifyAudit", tg.VerifyAudit != nil}}, r.checkIntegrity)
}

type hook struct {
	name string
	set  bool
}

type runner struct {
	tg       Service
	sessions map[string]Session // one logged-in session per role, until the clock moves
}

// control runs one control's check as a subtest, unless it is excluded or
// a hook it needs is missing (which fails it, naming the hook).
func (r *runner) control(t *testing.T, name string, needs []hook, check func(t *testing.T, control string)) {
	t.Run(name, func(t *testing.T) {
		if why, ok := r.tg.Exclude[name]; ok {
			t.Logf("%s: excluded by the target: %s", name, why)
			return
		}
		var missing []string
		for _, h := range needs {
			if !h.set {
				missing = append(missing, "Service."+h.name)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("%s: cannot be checked: %s not set (provide it, or list the control in Service.Exclude with a justification)",
				name, strings.Join(missing, ", "))
		}
		check(t, name)
	})
}

// session returns a logged-in session for role, reusing one while the clock
// has not moved.
func (r *runner) session(t *testing.T, role string) Session {
	t.Helper()
	if s, ok := r.sessions[role]; ok {
		return s
	}
	s := r.tg.Login(t, role)
	r.sessions[role] = s
	return s
}

// advance moves the service's clock and forgets cached sessions.
func (r *runner) advance(d time.Duration) {
	r.tg.Clock.Advance(d)
	clear(r.sessions)
}

// response is what the suite keeps of one exchange.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request to the handler. s may be nil (no credentials); mutate
// may alter the request (headers, query) before it is sent.
func (r *runner) do(t testing.TB, rt Route, s *Session, mutate func(*http.Request)) response {
	t.Helper()
	var body io.Reader
	if rt.Body != "" {
		body = strings.NewReader(rt.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultRequestBudget)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, rt.Method, rt.Path, body)
	if rt.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if s != nil {
		s.apply(req)
	}
	if mutate != nil {
		mutate(req)
	}
	rec := httptest.NewRecorder()
	r.tg.Handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// events returns the audit events recorded so far.
func (r *runner) events(t testing.TB) []audit.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultRequestBudget)
	defer cancel()
	evs, err := r.tg.Events(ctx)
	if err != nil {
		t.Fatalf("compliance: reading the audit trail: %v", err)
	}
	return evs
}

// eventsDuring returns the events recorded while fn ran.
func (r *runner) eventsDuring(t testing.TB, fn func()) []audit.Event {
	t.Helper()
	before := len(r.events(t))
	fn()
	after := r.events(t)
	if len(after) < before {
		t.Fatalf("compliance: the audit trail shrank from %d to %d events", before, len(after))
	}
	return after[before:]
}

// deniedRoles returns the roles of the target not allowed on rt.
func (r *runner) deniedRoles(rt Route) []string {
	var out []string
	for _, role := range r.tg.Roles {
		if !contains(rt.Roles, role) {
			out = append(out, role)
		}
	}
	return out
}

// usableRoute returns a route that role may use, preferring one without PHI,
// for checks that only need "a request that works while logged in".
func (r *runner) usableRoute(role string) (Route, bool) {
	var found *Route
	for i, rt := range r.tg.Routes {
		if !contains(rt.Roles, role) || (rt.Method != http.MethodGet && rt.Method != http.MethodHead) {
			continue
		}
		if !rt.PHI {
			return rt, true
		}
		if found == nil {
			found = &r.tg.Routes[i]
		}
	}
	if found == nil {
		return Route{}, false
	}
	return *found, true
}

// anyRoleWithRoute returns a role that can use some GET route, and the route.
func (r *runner) anyRoleWithRoute() (string, Route, bool) {
	roles := append([]string(nil), r.tg.Roles...)
	sort.Strings(roles)
	for _, role := range roles {
		if rt, ok := r.usableRoute(role); ok {
			return role, rt, true
		}
	}
	return "", Route{}, false
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func statusText(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }
