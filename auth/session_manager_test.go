package auth_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

func TestBeginSetsSecureCookieAndStoresOnlyHash(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana", "physician")
	rr := httptest.NewRecorder()
	s, tok, err := e.sm.Begin(context.Background(), rr, httptest.NewRequest("POST", "/login", nil), u, true)
	if err != nil {
		t.Fatal(err)
	}
	c := sessionCookie(rr)
	if c == nil {
		t.Fatal("no session cookie set")
	}
	if c.Value != tok || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie attributes not secure: %+v", c)
	}
	if !strings.HasPrefix(c.Name, "__Host-") || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("cookie must be a __Host- session cookie without expiry: %+v", c)
	}
	if h, err := auth.ParseToken(tok); err != nil || h != auth.TokenHash(sha256.Sum256([]byte(tok))) {
		t.Fatalf("token does not parse to its SHA-256: %v", err)
	}
	stored, err := e.store.SessionByID(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.TokenHash != sha256.Sum256([]byte(tok)) {
		t.Fatal("store does not key the session by the token's SHA-256")
	}
	if strings.Contains(s.ID, tok[5:20]) || s.ID == tok {
		t.Fatal("session ID is derived from the token")
	}
	if stored.IdleTimeout != 15*time.Minute || stored.AbsoluteTimeout != 12*time.Hour || !stored.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("default limits not applied: %+v", stored)
	}
}

func TestTokensAreUniqueAndFull(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	seen := map[string]bool{}
	for range 50 {
		tok := e.login(u, false)
		if seen[tok] {
			t.Fatal("token repeated")
		}
		seen[tok] = true
		if len(tok) != 48 {
			t.Fatalf("token length %d, want 48 (prefix + 256 bits in base64url)", len(tok))
		}
	}
}

func TestMiddlewareRefusesMissingMalformedUnknown(t *testing.T) {
	e := newEnv(t)
	h := e.sm.Middleware(whoami)
	valid := e.login(e.addUser("ana"), false)
	for name, tok := range map[string]string{
		"none":       "",
		"garbage":    "x",
		"wrong pfx":  "hks2_" + valid[5:],
		"padded":     valid[:47] + "=",
		"unknown":    "hks1_" + strings.Repeat("A", 43),
		"non-canon":  valid[:47] + "B",
		"overlong":   valid + "A",
		"whitespace": valid[:20] + " " + valid[21:],
	} {
		if name == "non-canon" && valid[47] == 'B' {
			continue
		}
		if rr := do(h, "GET", "/", tok); rr.Code != http.StatusUnauthorized || !strings.Contains(rr.Body.String(), "unauthenticated") {
			t.Errorf("%s: got %d %q, want 401 unauthenticated", name, rr.Code, rr.Body.String())
		}
	}
	if rr := do(h, "GET", "/", valid); rr.Code != 200 {
		t.Fatalf("valid token refused: %d", rr.Code)
	}
	// A duplicated cookie (a planted second value) is refused.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", auth.DefaultCookieName+"="+valid)
	r.Header.Add("Cookie", auth.DefaultCookieName+"=hks1_"+strings.Repeat("B", 43))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	if rr.Code != http.StatusUnauthorized {
		t.Fatalf("duplicate session cookies accepted: %d", rr.Code)
	}
}

func TestIdleTimeoutSlidesAndExpires(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	tok := e.login(u, false)
	h := e.sm.Middleware(whoami)
	// Activity every 10 minutes keeps the session alive past 15 minutes.
	for range 5 {
		e.clk.Advance(10 * time.Minute)
		if rr := do(h, "GET", "/", tok); rr.Code != 200 {
			t.Fatalf("active session refused after %v: %d", e.clk.Now().Sub(t0), rr.Code)
		}
	}
	e.clk.Advance(15 * time.Minute)
	if rr := do(h, "GET", "/", tok); rr.Code != http.StatusUnauthorized {
		t.Fatalf("idle session accepted: %d", rr.Code)
	}
	if ss, _ := e.store.ListUserSessions(context.Background(), u.ID); len(ss) != 0 {
		t.Fatal("expired session not deleted server-side")
	}
	ev := e.rec.find(audit.ActionSessionTimeout, "idle_timeout")
	if len(ev) != 1 || ev[0].Actor.UserID != u.ID || ev[0].Actor.SessionID == "" {
		t.Fatalf("want one session_timeout event for the user, got %+v", ev)
	}
}

func TestIdleTimeoutJustBeforeAndAt(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	h := e.sm.Middleware(whoami)
	e.clk.Advance(15*time.Minute - time.Second)
	if rr := do(h, "GET", "/", tok); rr.Code != 200 {
		t.Fatalf("session refused one second before its idle timeout: %d", rr.Code)
	}
	e.clk.Advance(15 * time.Minute)
	if rr := do(h, "GET", "/", tok); rr.Code != 401 {
		t.Fatalf("session accepted at its idle timeout: %d", rr.Code)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	h := e.sm.Middleware(whoami)
	for e.clk.Now().Before(t0.Add(12*time.Hour - 10*time.Minute)) {
		e.clk.Advance(10 * time.Minute)
		if rr := do(h, "GET", "/", tok); rr.Code != 200 {
			t.Fatalf("refused at %v: %d", e.clk.Now().Sub(t0), rr.Code)
		}
	}
	e.clk.Set(t0.Add(12 * time.Hour))
	if rr := do(h, "GET", "/", tok); rr.Code != 401 {
		t.Fatalf("session accepted after its absolute lifetime: %d", rr.Code)
	}
	if len(e.rec.find(audit.ActionSessionTimeout, "absolute_timeout")) != 1 {
		t.Fatal("absolute timeout not audited")
	}
}

func TestTenantPolicyTightensExistingSessions(t *testing.T) {
	e := newEnv(t)
	pol, err := policy.NewTenants(policy.Tenant{})
	if err != nil {
		t.Fatal(err)
	}
	e.sm.Policies = pol
	tok := e.login(e.addUser("ana"), false)
	h := e.sm.Middleware(whoami)
	e.clk.Advance(6 * time.Minute)
	if rr := do(h, "GET", "/", tok); rr.Code != 200 {
		t.Fatalf("refused: %d", rr.Code)
	}
	if err := pol.Set(policy.Tenant{TenantID: "clinic-a", IdleTimeout: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(5 * time.Minute)
	if rr := do(h, "GET", "/", tok); rr.Code != 401 {
		t.Fatalf("tightened idle limit not applied to an existing session: %d", rr.Code)
	}
	// New sessions get the tenant's limit stored.
	s, _, err := e.sm.Begin(context.Background(), nil, nil, mustUser(t, e, "ana"), false)
	if err != nil || s.IdleTimeout != 5*time.Minute {
		t.Fatalf("new session limit: %v %v", err, s.IdleTimeout)
	}
}

func mustUser(t *testing.T, e *env, name string) *auth.User {
	u, err := e.users.GetByName(context.Background(), "clinic-a", name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLogoutDeletesServerSide(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	tok := e.login(u, false)
	r := httptest.NewRequest("POST", "/logout", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	rr := httptest.NewRecorder()
	if err := e.sm.Logout(rr, r); err != nil {
		t.Fatal(err)
	}
	if c := sessionCookie(rr); c == nil || c.MaxAge >= 0 {
		t.Fatal("logout does not clear the cookie")
	}
	if rr := do(e.sm.Middleware(whoami), "GET", "/", tok); rr.Code != 401 {
		t.Fatal("token still valid after logout (a replayed cookie must not work)")
	}
	if len(e.rec.find(audit.ActionLogout, "logout")) != 1 {
		t.Fatal("logout not audited")
	}
	if err := e.sm.Logout(httptest.NewRecorder(), r); !errors.Is(err, auth.ErrInvalidSession) {
		t.Fatalf("second logout: %v", err)
	}
}

func TestLoginReplacesPresentedSession(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	planted := e.login(u, false)
	r := httptest.NewRequest("POST", "/login", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: planted})
	_, fresh, err := e.sm.Begin(context.Background(), httptest.NewRecorder(), r, u, false)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == planted {
		t.Fatal("login reused the presented token")
	}
	h := e.sm.Middleware(whoami)
	if do(h, "GET", "/", planted).Code != 401 || do(h, "GET", "/", fresh).Code != 200 {
		t.Fatal("the session presented at login must end and the new one work")
	}
}

func TestRevokeUserAndOtherSessions(t *testing.T) {
	e := newEnv(t)
	ana, bob := e.addUser("ana"), e.addUser("bob")
	a1, a2, a3 := e.login(ana, false), e.login(ana, false), e.login(ana, false)
	b1 := e.login(bob, false)
	h := e.sm.Middleware(whoami)
	s2, _ := e.store.SessionByTokenHash(context.Background(), auth.HashToken(a2))
	n, err := e.sm.RevokeOtherSessions(context.Background(), ana.ID, s2.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeOtherSessions: %v %d", err, n)
	}
	if do(h, "GET", "/", a1).Code != 401 || do(h, "GET", "/", a3).Code != 401 || do(h, "GET", "/", a2).Code != 200 {
		t.Fatal("RevokeOtherSessions did not keep exactly the current session")
	}
	var rev auth.SessionRevoker = e.sm
	if err := rev.RevokeUser(context.Background(), ana.ID); err != nil {
		t.Fatal(err)
	}
	if do(h, "GET", "/", a2).Code != 401 || do(h, "GET", "/", b1).Code != 200 {
		t.Fatal("RevokeUser must end every session of the user and only those")
	}
	if got := len(e.rec.find(audit.ActionLogout, "user_revoked")); got != 1 {
		t.Fatalf("RevokeUser audited %d sessions, want 1", got)
	}
}

func TestDisabledUserRefusedAtNextRequest(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	tok := e.login(u, false)
	u.Status = auth.StatusDisabled
	if err := e.users.Update(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if rr := do(e.sm.Middleware(whoami), "GET", "/", tok); rr.Code != 401 {
		t.Fatalf("disabled user's session accepted: %d", rr.Code)
	}
	if _, err := e.store.SessionByTokenHash(context.Background(), auth.HashToken(tok)); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatal("disabled user's session not deleted")
	}
	if _, _, err := e.sm.Begin(context.Background(), nil, nil, u, false); !errors.Is(err, auth.ErrUserInactive) {
		t.Fatalf("Begin for a disabled user: %v", err)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	var csrf string
	h := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		csrf = e.sm.CSRFToken(r)
	}))
	if rr := do(h, "GET", "/", tok); rr.Code != 200 || !strings.HasPrefix(csrf, "hkc1_") {
		t.Fatalf("GET: %d, csrf %q", rr.Code, csrf)
	}
	if strings.Contains(csrf, tok[5:]) {
		t.Fatal("CSRF token contains the session token")
	}
	cases := []struct {
		name string
		hdr  []string
		want int
	}{
		{"no token", nil, 403},
		{"wrong token", []string{"X-CSRF-Token", "hkc1_" + strings.Repeat("A", 43)}, 403},
		{"right token", []string{"X-CSRF-Token", csrf}, 200},
		{"cross-site fetch", []string{"X-CSRF-Token", csrf, "Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign origin", []string{"X-CSRF-Token", csrf, "Origin", "https://evil.example"}, 403},
		{"same-origin fetch", []string{"X-CSRF-Token", csrf, "Sec-Fetch-Site", "same-origin"}, 200},
	}
	for _, c := range cases {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			if rr := do(h, m, "/", tok, c.hdr...); rr.Code != c.want {
				t.Errorf("%s %s: got %d, want %d", m, c.name, rr.Code, c.want)
			}
		}
	}
	if len(e.rec.find(audit.ActionPermissionDenied, "csrf")) == 0 {
		t.Fatal("CSRF refusals not audited")
	}
	if err := e.sm.TrustOrigin("https://app.example"); err != nil {
		t.Fatal(err)
	}
	if rr := do(h, "POST", "/", tok, "X-CSRF-Token", csrf, "Origin", "https://app.example", "Sec-Fetch-Site", "same-site"); rr.Code != 200 {
		t.Fatalf("trusted origin refused: %d", rr.Code)
	}
	if err := e.sm.TrustOrigin("not a url"); err == nil {
		t.Fatal("malformed origin accepted")
	}
}

func TestBearerSkipsCSRFOnlyWhenAllowed(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	h := e.sm.Middleware(whoami)
	send := func() int {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		return rr.Code
	}
	if got := send(); got != 401 {
		t.Fatalf("bearer accepted without AllowBearer: %d", got)
	}
	e.sm.AllowBearer = true
	if got := send(); got != 200 {
		t.Fatalf("bearer refused with AllowBearer: %d", got)
	}
}

func TestRecentAuthAndReauthenticationRotates(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	var newCSRF string
	reauth := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := e.sm.Reauthenticated(w, r, true)
		if err != nil {
			t.Errorf("Reauthenticated: %v", err)
		}
		newCSRF = c
	}))
	sensitive := e.sm.Middleware(e.sm.RequireRecentAuth(whoami))
	if rr := do(sensitive, "GET", "/", tok); rr.Code != 200 {
		t.Fatalf("fresh login refused: %d", rr.Code)
	}
	e.clk.Advance(10 * time.Minute)
	do(sensitive, "GET", "/", tok)
	e.clk.Advance(10 * time.Minute)
	rr := do(sensitive, "GET", "/", tok)
	if rr.Code != 401 || !strings.Contains(rr.Body.String(), "reauthentication_required") {
		t.Fatalf("stale authentication accepted for a sensitive action: %d %s", rr.Code, rr.Body.String())
	}
	csrf := csrfOf(t, e, tok)
	rr = do(reauth, "POST", "/reauth", tok, "X-CSRF-Token", csrf)
	c := sessionCookie(rr)
	if rr.Code != 200 || c == nil || c.Value == tok || newCSRF == csrf {
		t.Fatalf("re-authentication must rotate the token and CSRF token: %d", rr.Code)
	}
	if do(sensitive, "GET", "/", tok).Code != 401 {
		t.Fatal("old token still valid after rotation")
	}
	if do(sensitive, "GET", "/", c.Value).Code != 200 {
		t.Fatal("rotated token refused for a sensitive action")
	}
}

func csrfOf(t *testing.T, e *env, tok string) string {
	t.Helper()
	var c string
	do(e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c = e.sm.CSRFToken(r) })), "GET", "/", tok)
	if c == "" {
		t.Fatal("no CSRF token")
	}
	return c
}

func TestSweep(t *testing.T) {
	e := newEnv(t)
	ana := e.addUser("ana")
	for range 3 {
		e.login(ana, false)
	}
	e.clk.Advance(10 * time.Minute)
	keep := e.login(ana, false)
	e.clk.Advance(6 * time.Minute)
	n, err := e.sm.Sweep(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("Sweep: %v, %d ended, want 3", err, n)
	}
	if do(e.sm.Middleware(whoami), "GET", "/", keep).Code != 200 {
		t.Fatal("Sweep ended a live session")
	}
	if got := len(e.rec.find(audit.ActionSessionTimeout, "idle_timeout")); got != 3 {
		t.Fatalf("%d timeouts audited, want 3", got)
	}
}

func TestInsecureCookieConfigRefused(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	for name, mod := range map[string]func(*auth.CookieConfig){
		"host without secure": func(c *auth.CookieConfig) { c.Secure = false },
		"host with domain":    func(c *auth.CookieConfig) { c.Domain = "example.com" },
		"host with path":      func(c *auth.CookieConfig) { c.Path = "/app" },
		"empty name":          func(c *auth.CookieConfig) { c.Name = "" },
		"bad name":            func(c *auth.CookieConfig) { c.Name = "a;b" },
		"samesite none":       func(c *auth.CookieConfig) { c.Name = "s"; c.Secure = false; c.SameSite = http.SameSiteNoneMode },
	} {
		saved := e.sm.Cookie
		mod(&e.sm.Cookie)
		if _, _, err := e.sm.Begin(context.Background(), nil, nil, u, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
		e.sm.Cookie = saved
	}
}

func TestStoreFailureIs503WithoutDetail(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	e.sm = auth.NewSessionManager(failingStore{e.store}, e.users, e.rec)
	rr := do(e.sm.Middleware(whoami), "GET", "/", tok)
	if rr.Code != 503 || strings.Contains(rr.Body.String(), "disk") {
		t.Fatalf("store failure: %d %q", rr.Code, rr.Body.String())
	}
}

type failingStore struct{ auth.SessionStore }

func (failingStore) SessionByTokenHash(context.Context, auth.TokenHash) (auth.Session, error) {
	return auth.Session{}, errors.New("disk on fire")
}

func TestManagerConfigValidated(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	for name, mod := range map[string]func(*auth.SessionManager){
		"zero idle":        func(m *auth.SessionManager) { m.IdleTimeout = 0 },
		"negative abs":     func(m *auth.SessionManager) { m.AbsoluteTimeout = -time.Hour },
		"zero reauth":      func(m *auth.SessionManager) { m.ReauthAfter = 0 },
		"no csrf header":   func(m *auth.SessionManager) { m.CSRFHeader = "" },
		"no emergency log": func(m *auth.SessionManager) { m.Emergencies = nil },
	} {
		m := auth.NewSessionManager(e.store, e.users, e.rec)
		mod(m)
		if _, _, err := m.Begin(context.Background(), nil, nil, u, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := e.sm.SweepEvery(context.Background(), 0); err == nil {
		t.Fatal("SweepEvery with a zero interval")
	}
}

func TestSweepEvery(t *testing.T) {
	e := newEnv(t)
	e.login(e.addUser("ana"), false)
	e.clk.Advance(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.sm.SweepEvery(ctx, time.Millisecond) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.rec.find(audit.ActionSessionTimeout, "")) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SweepEvery returned %v", err)
	}
	if len(e.rec.find(audit.ActionSessionTimeout, "")) != 1 {
		t.Fatal("the sweeper did not end the expired session")
	}
}

func TestShortIdleLimitStillSlides(t *testing.T) {
	e := newEnv(t)
	e.sm.IdleTimeout = 2 * time.Minute
	e.sm.TouchInterval = 10 * time.Minute // capped at a tenth of the idle limit: 12s
	tok := e.login(e.addUser("ana"), false)
	h := e.sm.Middleware(whoami)
	for range 20 {
		e.clk.Advance(90 * time.Second)
		if rr := do(h, "GET", "/", tok); rr.Code != 200 {
			t.Fatalf("active session with a short idle limit ended after %v", e.clk.Now().Sub(t0))
		}
	}
}

func TestCookieAndBearerTogetherRefused(t *testing.T) {
	e := newEnv(t)
	e.sm.AllowBearer = true
	u := e.addUser("ana")
	a, b := e.login(u, false), e.login(u, false)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: a})
	r.Header.Set("Authorization", "Bearer "+b)
	rr := httptest.NewRecorder()
	e.sm.Middleware(whoami).ServeHTTP(rr, r)
	if rr.Code != 401 {
		t.Fatalf("a request with both a cookie and a bearer token: %d", rr.Code)
	}
}

func TestCSRFTokenIsPerSession(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana")
	a, b := e.login(u, false), e.login(u, false)
	ca, cb := csrfOf(t, e, a), csrfOf(t, e, b)
	if ca == cb {
		t.Fatal("two sessions share a CSRF token")
	}
	h := e.sm.Middleware(whoami)
	if rr := do(h, "POST", "/", a, "X-CSRF-Token", cb); rr.Code != 403 {
		t.Fatalf("another session's CSRF token accepted: %d", rr.Code)
	}
}

func TestActorRolesAndSessionID(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ana", "nurse", "lab_assistant")
	tok := e.login(u, false)
	var a audit.Actor
	do(e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a, _ = auth.ActorFromRequest(r) })), "GET", "/", tok)
	s, _ := e.store.SessionByTokenHash(context.Background(), auth.HashToken(tok))
	if a.UserID != u.ID || a.TenantID != "clinic-a" || a.Role != "lab_assistant,nurse" || a.SessionID != s.ID || a.Emergency {
		t.Fatalf("actor: %+v", a)
	}
	if _, ok := auth.ActorFromRequest(httptest.NewRequest("GET", "/", nil)); ok {
		t.Fatal("actor for a request without a session")
	}
}

func TestCSRFFormField(t *testing.T) {
	e := newEnv(t)
	tok := e.login(e.addUser("ana"), false)
	csrf := csrfOf(t, e, tok)
	var note string
	h := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { note = r.PostFormValue("note") }))
	post := func(body, ctype string) int {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, r)
		return rr.Code
	}
	if got := post("note=hello&csrf_token="+csrf, "application/x-www-form-urlencoded"); got != 200 || note != "hello" {
		t.Fatalf("form with the token: %d, note %q", got, note)
	}
	if got := post("note=hello&csrf_token=hkc1_forged", "application/x-www-form-urlencoded"); got != 403 {
		t.Fatalf("form with a forged token: %d", got)
	}
	if got := post("csrf_token="+csrf, "text/plain"); got != 403 {
		t.Fatalf("token in a non-form body: %d", got)
	}
	if got := post("note="+strings.Repeat("x", 2<<20)+"&csrf_token="+csrf, "application/x-www-form-urlencoded"); got != 403 {
		t.Fatalf("oversized form: %d", got)
	}
}
