package compliance

import (
	"context"
	"crypto/tls"
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

// Controls lists the controls Run checks, in the order it checks them;
// Run also checks ControlPasskey, after ControlMFA, for a Service with
// PasskeyRoles.
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
	if err := checkRoles(tg.Routes, tg.Roles); err != nil {
		t.Fatal(err)
	}
	inProcess(tg).runControls(testingT{t})
}

// inProcess returns the runner that sends requests straight to tg.Handler.
func inProcess(tg Service) *runner {
	r := &runner{tg: tg, h: hooksOf(tg), sessions: map[string]Session{}, margin: time.Second,
		hookName: func(h string) string { return "Service." + h }}
	r.send = func(req *http.Request) (response, error) {
		rec := httptest.NewRecorder()
		tg.Handler.ServeHTTP(rec, req)
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
	r.control(t, ControlAccess, nil, r.checkAccess)
	r.control(t, ControlAudit, []hook{{n("Events"), tg.Events != nil}}, r.checkAudit)
	r.control(t, ControlTransmission, nil, r.checkHeaders)
	r.control(t, ControlConfidential, r.canaryHooks(), r.checkCanary)
	r.control(t, ControlEmergency, []hook{{n("Emergency"), r.h.emergency != nil}, {n("EmergencyRole"), tg.EmergencyRole != ""},
		{n("EmergencyRoute"), tg.EmergencyRoute.Path != ""}, {n("Events"), tg.Events != nil}}, r.checkEmergency)
	r.control(t, ControlAuthn, r.authnHooks(), r.checkAuthn)
	r.control(t, ControlMFA, []hook{{n("RequireMFA"), tg.RequireMFA}, {n("PasswordLogin"), r.h.passwordLogin != nil}}, r.checkMFA)
	if len(tg.PasskeyRoles) > 0 && r.remote == nil {
		r.control(t, ControlPasskey, []hook{{n("NonPasskeyLogin"), tg.NonPasskeyLogin != nil}}, r.checkPasskey)
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
	return []hook{{n("SeedCanary"), r.h.seedCanary != nil}, {n("Logs"), r.tg.Logs != nil}, {n("CanaryRole"), r.tg.CanaryRole != ""}}
}

// authnHooks: a live deployment's password is never changed by the check.
func (r *runner) authnHooks() []hook {
	n := r.hookName
	hs := []hook{{n("Logout"), r.tg.Logout.Path != ""}, {n("TOTP"), r.h.totp != nil}, {n("NewCredentials"), r.h.newCredentials != nil},
		{n("TryLogin"), r.h.tryLogin != nil}, {n("LockoutThreshold"), r.tg.LockoutThreshold > 0}}
	if r.remote == nil {
		hs = append(hs, hook{n("ChangePassword"), r.h.changePassword != nil})
	}
	return hs
}

type hook struct {
	name string
	set  bool
}

// hooks are the Service's callbacks, taking the suite's T; in-process they
// call the Service's, against a live deployment they speak HTTP.
type hooks struct {
	login          func(t T, role string) Session
	passwordLogin  func(t T, role string) Session
	changePassword func(t T, s Session)
	totp           func(t T) (secret string, submit func(code string) bool)
	newCredentials func(t T) Credentials
	tryLogin       func(t T, c Credentials) bool
	seedCanary     func(t T, s Session, canary string) []Route
	emergency      func(t T, s Session, reason string) (Session, bool)
}

// hooksOf adapts tg's callbacks; a nil callback stays nil.
func hooksOf(tg Service) hooks {
	h := hooks{login: func(t T, role string) Session { return tg.Login(tbOf(t), role) }}
	if f := tg.PasswordLogin; f != nil {
		h.passwordLogin = func(t T, role string) Session { return f(tbOf(t), role) }
	}
	if f := tg.ChangePassword; f != nil {
		h.changePassword = func(t T, s Session) { f(tbOf(t), s) }
	}
	if f := tg.TOTP; f != nil {
		h.totp = func(t T) (string, func(string) bool) { return f(tbOf(t)) }
	}
	if f := tg.NewCredentials; f != nil {
		h.newCredentials = func(t T) Credentials { return f(tbOf(t)) }
	}
	if f := tg.TryLogin; f != nil {
		h.tryLogin = func(t T, c Credentials) bool { return f(tbOf(t), c) }
	}
	if f := tg.SeedCanary; f != nil {
		h.seedCanary = func(t T, s Session, c string) []Route { return f(tbOf(t), s, c) }
	}
	if f := tg.Emergency; f != nil {
		h.emergency = func(t T, s Session, reason string) (Session, bool) { return f(tbOf(t), s, reason) }
	}
	return h
}

type runner struct {
	tg       Service
	h        hooks
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
	s := r.h.login(t, role)
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
	return r.remote == nil || safeMethod(rt.Method) || r.remote.send[rt.Method+" "+rt.Path]
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

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func statusText(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }
