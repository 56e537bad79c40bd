package suite

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CheckConfig configures Check.
type CheckConfig struct {
	// URL is the deployment's base URL, https://HOST[:PORT] (required). Check
	// connects to that host and port only, and never follows a redirect.
	URL string
	// File describes the deployment's test users, routes and declared
	// limits (required; ParseCheckFile).
	File *CheckFile
	// RootCAs are the roots trusted for the deployment's certificate; nil
	// means the system's.
	RootCAs *x509.CertPool
	// MaxRequests bounds the HTTP requests Check sends (default 5000);
	// once spent, every further request fails the check that sends it.
	MaxRequests int
}

// DefaultMaxRequests is CheckConfig.MaxRequests' default.
const DefaultMaxRequests = 5000

// maxBody bounds how much of a response body Check reads.
const maxBody = 1 << 20

// ErrCheckConfig reports a CheckConfig that Check cannot use.
var ErrCheckConfig = errors.New("compliance: invalid check configuration")

// Check runs the black-box part of the suite against a live deployment over
// HTTPS, with the same checks and control names as Run: access control
// (401 without a session, the role matrix, undeclared routes, escalation,
// CSRF refusal), transmission (TLS versions and cipher suites, HSTS,
// security headers and no-store on every declared route, session-cookie
// flags), confidentiality (a canary sent in refused requests never comes
// back in their bodies or headers), person authentication (logout, TOTP
// replay, lockout), the second factor and automatic logoff (idle and
// absolute, waited out in real time). The controls that need the audit
// trail are reported NotChecked, naming where their evidence comes from.
//
// Check sends only requests that change nothing, except those the check
// file allows, bounds its requests, and logs out every session it opened.
// The error is for a configuration it cannot use; what it finds is in the
// Results.
func Check(ctx context.Context, cfg CheckConfig) (Results, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || base.Scheme != "https" || base.Host == "" || base.User != nil || (base.Path != "" && base.Path != "/") ||
		base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("%w: the URL must be https://HOST[:PORT] with no path, query or credentials", ErrCheckConfig)
	}
	if cfg.File == nil {
		return nil, fmt.Errorf("%w: a check file is required", ErrCheckConfig)
	}
	f := &cfg.File.f
	if err := checkRoles(routesOf(f), f.Roles); err != nil {
		return nil, err
	}
	budget := cfg.MaxRequests
	if budget <= 0 {
		budget = DefaultMaxRequests
	}
	rm := newRemote(ctx, base, f, cfg.RootCAs, int64(budget))
	defer rm.logoutAll()
	r := &runner{tg: rm.service(), h: rm.hooks(), sessions: map[string]Session{}, send: rm.roundTrip, remote: rm,
		margin: max(time.Second, f.idle/4), hookName: rm.fileField}
	root := &recorder{}
	r.runControls(root)
	return Results(root.results), nil
}

func routesOf(f *checkFile) []Route {
	out := make([]Route, 0, len(f.Routes))
	for _, rt := range f.Routes {
		out = append(out, Route{Method: rt.Method, Path: rt.Path, Pattern: rt.Pattern, Body: rt.Body, Roles: rt.Roles, PHI: rt.PHI})
	}
	return out
}

// remote is the state of one Check run.
type remote struct {
	ctx      context.Context
	base     *url.URL
	hostport string
	f        *checkFile
	client   *http.Client
	tlsConf  *tls.Config
	send     map[string]bool // "METHOD path" of routes the file allows to send
	max      int64
	sent     atomic.Int64

	mu       sync.Mutex
	lastStep map[string]int64 // the TOTP step each user last logged in with
	next     map[string]int   // round-robin position per role
	opened   []Session        // every session opened, logged out at the end
	cookies  []*http.Cookie   // the cookies set by logins, for their flags
	lockout  bool             // the lockout user was handed out
}

func newRemote(ctx context.Context, base *url.URL, f *checkFile, roots *x509.CertPool, max int64) *remote {
	hostport := base.Host
	if base.Port() == "" {
		hostport = net.JoinHostPort(base.Hostname(), "443")
	}
	rm := &remote{ctx: ctx, base: &url.URL{Scheme: "https", Host: base.Host}, hostport: hostport, f: f, max: max,
		send: map[string]bool{}, lastStep: map[string]int64{}, next: map[string]int{}}
	for _, rt := range f.Routes {
		if rt.Send {
			rm.send[rt.Method+" "+rt.Path] = true
		}
	}
	rm.tlsConf = &tls.Config{RootCAs: roots, ServerName: base.Hostname(), MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: rm.tlsConf,
		// Only the given host: whatever a request says, the connection
		// goes to the deployment's address.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != rm.hostport {
				return nil, fmt.Errorf("compliance: refusing to connect to %s: only the deployment under check is contacted", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		Proxy:               nil,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	rm.client = &http.Client{Transport: tr, Timeout: defaultRequestBudget,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return rm
}

func (rm *remote) unavailable(control string) (string, bool) {
	if rm == nil {
		return "", false
	}
	const trail = "it needs the audit trail; run compliance.Run in the service's tests and hipaakit report on the deployment"
	switch control {
	case ControlAudit, ControlIntegrity:
		return trail, true
	case ControlEmergency:
		return "break-glass access is recorded in the audit trail and would elevate a live account; " + trail, true
	}
	return "", false
}

// fileField names, in failure messages, the check-file member that enables
// a hook.
func (rm *remote) fileField(h string) string {
	names := map[string]string{"Logout": "auth_prefix", "TOTP": "users (one with a totp_secret)",
		"NewCredentials": "lockout_user", "TryLogin": "lockout_user", "LockoutThreshold": "lockout_threshold",
		"RequireMFA": "require_mfa", "PasswordLogin": "password_only_users", "Clock": "idle_timeout",
		"IdleTimeout": "idle_timeout", "AbsoluteTimeout": "session_lifetime (longer than idle_timeout)", "Exclude": "exclude"}
	if n, ok := names[h]; ok {
		return "check file " + n
	}
	return "check file " + strings.ToLower(h)
}

// service is the Spec the runner checks: the file's routes and limits.
func (rm *remote) service() Spec {
	f := rm.f
	s := Spec{Routes: routesOf(f), Roles: f.Roles, Logout: Route{Method: http.MethodPost, Path: f.AuthPrefix + "/logout"},
		LockoutThreshold: f.LockoutThreshold, RequireMFA: f.RequireMFA, Exclude: f.Exclude, LoginPage: f.LoginPage}
	if f.idle > 0 && f.absolute > f.idle {
		s.IdleTimeout, s.AbsoluteTimeout, s.Clock = f.idle, f.absolute, sleepClock{rm.ctx}
	}
	return s
}

// sleepClock is a deployment's real clock: advancing it waits.
type sleepClock struct{ ctx context.Context }

func (sleepClock) Now() time.Time { return time.Now() }
func (c sleepClock) Advance(d time.Duration) time.Time {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-c.ctx.Done():
	}
	return time.Now()
}

func (rm *remote) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	if !cleanPath(path) {
		return nil, fmt.Errorf("compliance: %q is not a path on the deployment", path)
	}
	u := *rm.base
	p, q, _ := strings.Cut(path, "?")
	u.Path, u.RawQuery = p, q
	return http.NewRequestWithContext(ctx, method, u.String(), body)
}

// roundTrip sends req within the request budget and reads a bounded body.
func (rm *remote) roundTrip(req *http.Request) (response, error) {
	if n := rm.sent.Add(1); n > rm.max {
		return response{}, errBudget(rm.max)
	}
	return rm.exchange(req)
}

// exchange sends req to the deployment (only) and reads a bounded body.
func (rm *remote) exchange(req *http.Request) (response, error) {
	if req.URL.Host != rm.base.Host || req.URL.Scheme != "https" {
		return response{}, fmt.Errorf("request to another host refused")
	}
	resp, err := rm.client.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("request failed: %v", errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return response{}, fmt.Errorf("reading the response: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), tls: resp.TLS}, nil
}

// logoutAll ends every session Check opened (cleanup; errors are ignored,
// a session may have ended already). The logouts are outside the request
// budget, so a run that spent it still cleans up; there are at most as
// many as logins, which the budget bounds.
func (rm *remote) logoutAll() {
	rm.mu.Lock()
	opened := rm.opened
	rm.opened = nil
	rm.mu.Unlock()
	for _, s := range opened {
		ctx, cancel := context.WithTimeout(context.Background(), defaultRequestBudget)
		req, err := rm.newRequest(ctx, http.MethodPost, rm.f.AuthPrefix+"/logout", nil)
		if err == nil {
			s.apply(req)
			rm.exchange(req) //nolint:errcheck // best effort
		}
		cancel()
	}
}

// loginReply is the part of auth.Service's login answer Check reads.
type loginReply struct {
	Status    string `json:"status"`
	UserID    string `json:"user_id"`
	CSRFToken string `json:"csrf_token"`
}

// login posts one login to auth.Service's endpoint and returns the status,
// the reply and the session (when one started).
func (rm *remote) login(name, password, code string) (int, loginReply, *Session, error) {
	body := map[string]string{"tenant_id": rm.f.TenantID, "name": name, "password": password}
	if code != "" {
		body["totp_code"] = code
	}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(rm.ctx, defaultRequestBudget)
	defer cancel()
	req, err := rm.newRequest(ctx, http.MethodPost, rm.f.AuthPrefix+"/login", strings.NewReader(string(b)))
	if err != nil {
		return 0, loginReply{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := rm.roundTrip(req)
	if err != nil {
		return 0, loginReply{}, nil, err
	}
	var out loginReply
	json.Unmarshal([]byte(res.body), &out) //nolint:errcheck // a refusal may not be JSON
	if res.status != http.StatusOK || out.Status != "authenticated" {
		return res.status, out, nil, nil
	}
	cookies := (&http.Response{Header: res.header}).Cookies()
	s := Session{UserID: out.UserID, Cookies: cookies, Header: http.Header{}}
	if out.CSRFToken != "" {
		s.Header.Set("X-CSRF-Token", out.CSRFToken)
	}
	rm.mu.Lock()
	rm.opened = append(rm.opened, s)
	rm.cookies = append(rm.cookies, cookies...)
	rm.mu.Unlock()
	return res.status, out, &s, nil
}

func errBudget(max int64) error {
	return fmt.Errorf("the request budget (%d requests and connections) is spent", max)
}
