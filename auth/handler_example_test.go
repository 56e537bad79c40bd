package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// The handlers serve sign-in as JSON; the Authenticator checks the
// credentials and the SessionManager starts the session.
func ExampleHandlers() {
	users := auth.NewMemoryUserStore()
	sessions := auth.NewSessionManager(auth.NewMemorySessionStore(), users, audit.Discard{})
	hasher, _ := auth.NewHasher(auth.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	authn, err := auth.NewAuthenticator(auth.Config{Users: users, Audit: audit.Discard{}, Hasher: hasher}, sessions)
	if err != nil {
		panic(err)
	}
	if _, err := authn.CreateUser(context.Background(), auth.NewUser{TenantID: "clinic-a", Name: "ana",
		Roles: []string{"physician"}, Password: "violet-harbor-lantern-42"}, audit.Actor{UserID: "admin"}, audit.Origin{}); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	auth.NewHandlers(sessions, authn, nil).Mount(mux, "/auth")

	login := func(password string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/auth/login", strings.NewReader(
			`{"tenant_id":"clinic-a","name":"ana","password":"`+password+`"}`))
		r.Header.Set("Content-Type", "application/json")
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, r)
		return rr
	}
	bad := login("guess-guess-guess")
	fmt.Println(bad.Code, strings.TrimSpace(bad.Body.String()))
	good := login("violet-harbor-lantern-42")
	fmt.Println(good.Code, strings.Contains(good.Body.String(), `"status":"authenticated"`), len(good.Result().Cookies()))
	// Output:
	// 401 {"error":"invalid_credentials"}
	// 200 true 1
}

// Break-glass: an eligible user elevates to an emergency role for a bounded
// time with a reason; every audit actor during it is flagged.
func ExampleGuard_Elevate() {
	users := auth.NewMemoryUserStore()
	u := exampleUser(users)
	sessions := auth.NewSessionManager(auth.NewMemorySessionStore(), users, audit.Discard{})
	sessions.OnEmergency = func(_ context.Context, a auth.EmergencyAlert) {
		fmt.Println("alert: started", a.Started, "role", a.Access.Role)
	}
	p, err := auth.ParsePolicy([]byte(`{"version":1,"permissions":["patient:read"],"roles":[
		{"name":"physician","permissions":["patient:read"]},
		{"name":"er_override","emergency":true,"eligible_roles":["physician"],"max_duration":"1h","permissions":["patient:read"]}]}`))
	if err != nil {
		panic(err)
	}
	guard := auth.NewGuard(sessions, p.RBAC)
	_, tok, _ := sessions.Begin(context.Background(), nil, nil, u, true)

	elevate := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _, err := guard.Elevate(w, r, "er_override", "patient unconscious, chart locked", 30*time.Minute)
		fmt.Println(err, a.Until.Sub(a.StartedAt))
	}))
	r := httptest.NewRequest("POST", "/elevate", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	r.Header.Set("X-CSRF-Token", csrfFromCookie(sessions, tok))
	elevate.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// alert: started true role er_override
	// <nil> 30m0s
}

// csrfFromCookie asks the session middleware for the CSRF token of tok.
func csrfFromCookie(sessions *auth.SessionManager, tok string) string {
	var c string
	h := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c = sessions.CSRFToken(r) }))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	h.ServeHTTP(httptest.NewRecorder(), r)
	return c
}
