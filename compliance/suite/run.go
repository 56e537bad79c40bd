package suite

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
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

// RunHandler runs every control against h in-process, one sub-check of t
// per control: what compliance.Run does with a *testing.T. hookName names
// a missing Spec field or hook in failure messages (for example
// "Service.TOTP").
func RunHandler(t T, h http.Handler, spec Spec, hooks Hooks, hookName func(string) string) {
	if err := checkRoles(spec.Routes, spec.Roles); err != nil {
		t.Fatalf("%v", err)
	}
	inProcess(h, spec, hooks, hookName).runControls(t)
}

// inProcess returns the runner that sends requests straight to h.
func inProcess(h http.Handler, spec Spec, hooks Hooks, hookName func(string) string) *runner {
	r := &runner{tg: spec, h: hooks, sessions: map[string]Session{}, margin: time.Second, hookName: hookName}
	r.send = func(req *http.Request) (response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}, nil
	}
	return r
}

// checkRoles refuses a route that allows a role the service does not define.
func checkRoles(routes []Route, roles []string) error {
	for _, rt := range routes {
		for _, role := range rt.Roles {
			if !contains(roles, role) {
				return fmt.Errorf("compliance: route %s allows role %q, which is not in the list of roles", rt.name(), role)
			}
		}
	}
	return nil
}

// runControls runs every control as a sub-check of t, in Controls order.
func (r *runner) runControls(t T) {
	tg, n := r.tg, r.hookName
	var served []hook
	if r.remote == nil {
		served = []hook{{n("Served"), tg.Served != nil}}
	}
	r.control(t, ControlAccess, served, r.checkAccess)
	r.control(t, ControlAudit, []hook{{n("Events"), tg.Events != nil}, {n("SeedFields"), r.h.SeedFields != nil},
		{n("CanaryRole"), tg.CanaryRole != ""}}, r.checkAudit)
	r.control(t, ControlTransmission, nil, r.checkHeaders)
	r.control(t, ControlConfidential, r.canaryHooks(), r.checkCanary)
	r.control(t, ControlEmergency, []hook{{n("Emergency"), r.h.Emergency != nil}, {n("EmergencyRole"), tg.EmergencyRole != ""},
		{n("EmergencyRoute"), tg.EmergencyRoute.Path != ""}, {n("Events"), tg.Events != nil}}, r.checkEmergency)
	r.control(t, ControlAuthn, r.authnHooks(), r.checkAuthn)
	r.control(t, ControlMFA, []hook{{n("RequireMFA"), tg.RequireMFA}, {n("PasswordLogin"), r.h.PasswordLogin != nil}}, r.checkMFA)
	if len(tg.PasskeyRoles) > 0 && r.remote == nil {
		r.control(t, ControlPasskey, []hook{{n("NonPasskeyLogin"), r.h.NonPasskeyLogin != nil}}, r.checkPasskey)
	}
	r.control(t, ControlAutoLogoff, []hook{{n("Clock"), tg.Clock != nil}, {n("IdleTimeout"), tg.IdleTimeout > 0},
		{n("AbsoluteTimeout"), tg.AbsoluteTimeout > tg.IdleTimeout}}, r.checkAutoLogoff)
	// Last, so that it covers the events every other check produced.
	r.control(t, ControlIntegrity, []hook{{n("VerifyAudit"), tg.VerifyAudit != nil}}, r.checkIntegrity)
}

// canaryHooks: in-process the canary is seeded through the service and
// looked for in its logs; against a live deployment only the refusals are
// checked (nothing is written into it), which needs no hook.
func (r *runner) canaryHooks() []hook {
	if r.remote != nil {
		return nil
	}
	n := r.hookName
	return []hook{{n("SeedCanary"), r.h.SeedCanary != nil}, {n("Logs"), r.tg.Logs != nil}, {n("CanaryRole"), r.tg.CanaryRole != ""}}
}

// authnHooks: a live deployment's password is never changed by the check.
func (r *runner) authnHooks() []hook {
	n := r.hookName
	hs := []hook{{n("Logout"), r.tg.Logout.Path != ""}, {n("TOTP"), r.h.TOTP != nil}, {n("NewCredentials"), r.h.NewCredentials != nil},
		{n("TryLogin"), r.h.TryLogin != nil}, {n("LockoutThreshold"), r.tg.LockoutThreshold > 0}}
	if r.remote == nil {
		hs = append(hs, hook{n("ChangePassword"), r.h.ChangePassword != nil})
	}
	return hs
}

type hook struct {
	name string
	set  bool
}

// Hooks are the callbacks a check may need, taking the suite's T: in
// compliance.Run they call the Service's, in Check they speak HTTP. A nil
// hook disables the checks that need it (which fail, naming it).
type Hooks struct {
	Login          func(t T, role string) Session
	PasswordLogin  func(t T, role string) Session
	ChangePassword func(t T, s Session)
	TOTP           func(t T) (secret string, submit func(code string) bool)
	NewCredentials func(t T) Credentials
	TryLogin       func(t T, c Credentials) bool
	SeedCanary     func(t T, s Session, canary string) []Route
	SeedFields     func(t T, s Session) ([]Route, map[string]string)
	Emergency      func(t T, s Session, reason string) (Session, bool)
	// NonPasskeyLogin logs in a fresh user of role with every factor but
	// a passkey (ControlPasskey).
	NonPasskeyLogin func(t T, role string) Session
}

type runner struct {
	tg       Spec
	h        Hooks
	sessions map[string]Session // one logged-in session per role, until the clock moves
	// send delivers one request: to the handler in-process, over the
	// network against a live deployment.
	send func(req *http.Request) (response, error)
	// remote is set when the suite runs against a live deployment (Check).
	remote *remote
	// margin is how far past (or short of) a timeout the auto-logoff check
	// probes: a second in-process, more over a network.
	margin   time.Duration
	hookName func(string) string
}

// control runs one control's check as a sub-check, unless it is excluded,
// cannot be shown from where the suite runs, or a hook it needs is missing
// (which fails it, naming the hook).
func (r *runner) control(t T, name string, needs []hook, check func(t T, control string)) {
	t.Run(name, func(t T) {
		if why, ok := r.tg.Exclude[name]; ok {
			markResult(t, Excluded)
			t.Logf("%s: excluded by the target: %s", name, why)
			return
		}
		if why, ok := r.remote.unavailable(name); ok {
			markResult(t, NotChecked)
			t.Logf("%s: not checked against a live deployment: %s", name, why)
			return
		}
		var missing []string
		for _, h := range needs {
			if !h.set {
				missing = append(missing, h.name)
			}
		}
		if len(missing) > 0 {
			t.Fatalf("%s: cannot be checked: %s not set (provide it, or list the control in %s with a justification)",
				name, strings.Join(missing, ", "), r.hookName("Exclude"))
		}
		check(t, name)
	})
}

// session returns a logged-in session for role, reusing one while the clock
// has not moved.
func (r *runner) session(t T, role string) Session {
	t.Helper()
	if s, ok := r.sessions[role]; ok {
		return s
	}
	s := r.h.Login(t, role)
	r.sessions[role] = s
	return s
}

// advance moves the service's clock and forgets cached sessions.
func (r *runner) advance(d time.Duration) {
	r.tg.Clock.Advance(d)
	clear(r.sessions)
}

// now is the service's time: its clock's when the Service gives one.
func (r *runner) now() time.Time {
	if r.tg.Clock != nil {
		return r.tg.Clock.Now()
	}
	return time.Now()
}

// sendable reports whether the suite may send rt with a session allowed to
// use it. In-process every route is; against a live deployment only
// requests that change nothing (GET, HEAD) and routes the check file marks
// "send", so that checking a deployment writes nothing into it.
func (r *runner) sendable(rt Route) bool {
	if r.remote == nil {
		return rt.DenyOnly == ""
	}
	return safeMethod(rt.Method) || r.remote.send[rt.Method+" "+rt.Path]
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// response is what the suite keeps of one exchange.
type response struct {
	status int
	header http.Header
	body   string
	tls    *tls.ConnectionState // over the network only
}

// do sends one request. s may be nil (no credentials); mutate may alter the
// request (headers, query) before it is sent.
func (r *runner) do(t T, rt Route, s *Session, mutate func(*http.Request)) response {
	t.Helper()
	var body io.Reader
	if rt.Body != "" {
		body = strings.NewReader(rt.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultRequestBudget)
	defer cancel()
	req, err := r.newRequest(ctx, rt.Method, rt.Path, body)
	if err != nil {
		t.Fatalf("compliance: %s: %v", rt.name(), err)
	}
	if rt.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if s != nil {
		s.apply(req)
	}
	if mutate != nil {
		mutate(req)
	}
	res, err := r.send(req)
	if err != nil {
		t.Fatalf("compliance: %s: %v", rt.name(), err)
	}
	return res
}

// newRequest builds a request for path (and its query): against the
// handler in-process, or on the one deployment Check was given.
func (r *runner) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	if r.remote != nil {
		return r.remote.newRequest(ctx, method, path, body)
	}
	return httptest.NewRequestWithContext(ctx, method, path, body), nil
}

// events returns the audit events recorded so far.
func (r *runner) events(t T) []audit.Event {
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
func (r *runner) eventsDuring(t T, fn func()) []audit.Event {
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

// unauthenticated reports whether res refuses a request for want of a
// session: 401, or for a browser page a redirect to Service.LoginPage.
func (r *runner) unauthenticated(res response) bool {
	return res.status == http.StatusUnauthorized || r.toLoginPage(res)
}

// succeeded reports whether res served the request: 2xx, or a redirect
// elsewhere than the login page (a page that forwards to another).
func (r *runner) succeeded(res response) bool {
	return ok2xx(res.status) || (res.status >= 300 && res.status < 400 && res.header.Get("Location") != "" && !r.toLoginPage(res))
}

func (r *runner) toLoginPage(res response) bool {
	if r.tg.LoginPage == "" || res.status < 300 || res.status >= 400 {
		return false
	}
	loc, err := url.Parse(res.header.Get("Location"))
	return err == nil && loc.Path == r.tg.LoginPage
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func statusText(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }
