package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/clock"
)

// recorder is audittest.Memory with the look-ups these tests share.
type recorder struct{ audittest.Memory }

// setFail makes every later Write fail (or succeed again).
func (r *recorder) setFail(f bool) {
	if f {
		r.FailWith(errors.New("audit store down"))
	} else {
		r.FailWith(nil)
	}
}

func (r *recorder) all() []audit.Event { return r.Events() }

// find returns the events with action (and reason, when not empty).
func (r *recorder) find(action audit.Action, reason string) []audit.Event {
	var out []audit.Event
	for _, e := range r.EventsWith(action) {
		if reason == "" || e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

// env is a session manager over memory stores with a fake clock.
type env struct {
	t     *testing.T
	clk   *clock.Fake
	users auth.UserStore
	store auth.SessionStore
	rec   *recorder
	sm    *auth.SessionManager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clk: clock.NewFake(t0), users: auth.NewMemoryUserStore(), store: auth.NewMemorySessionStore(), rec: &recorder{}}
	e.sm = auth.NewSessionManager(e.store, e.users, e.rec)
	e.sm.Clock = e.clk
	return e
}

// addUser creates an active user of tenant "clinic-a" with roles.
func (e *env) addUser(name string, roles ...string) *auth.User {
	e.t.Helper()
	u := &auth.User{ID: auth.NewUserID(), TenantID: "clinic-a", Name: name, Status: auth.StatusActive,
		Roles: auth.NormalizeRoles(roles), CreatedAt: t0, UpdatedAt: t0}
	if err := e.users.Create(context.Background(), u); err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

// login starts a session for u and returns the token.
func (e *env) login(u *auth.User, mfa bool) string {
	e.t.Helper()
	rr := httptest.NewRecorder()
	_, tok, err := e.sm.Begin(context.Background(), rr, httptest.NewRequest("POST", "/login", nil), u, mfa)
	if err != nil {
		e.t.Fatalf("Begin: %v", err)
	}
	return tok
}

// do sends a request with the session cookie tok through h and returns the recorder.
func do(h http.Handler, method, path, tok string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader("{}"))
	r.RemoteAddr = "192.0.2.10:4711"
	if tok != "" {
		r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	return rr
}

// whoami answers with the principal's user ID.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.PrincipalFromContext(r.Context())
	if !ok {
		http.Error(w, "no principal", 500)
		return
	}
	w.Write([]byte(p.UserID))
})

// sessionCookie returns the session cookie set on rr, if any.
func sessionCookie(rr *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rr.Result().Cookies() {
		if c.Name == auth.DefaultCookieName {
			return c
		}
	}
	return nil
}
