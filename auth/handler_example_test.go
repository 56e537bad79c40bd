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
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// Mount serves sign-in as JSON: the login endpoint checks the credentials
// and starts the session.
func ExampleService_Mount() {
	svc := exampleService(memstore.NewUserStore(), nil)
	if _, err := svc.CreateUser(context.Background(), auth.NewUser{TenantID: "clinic-a", Name: "ana",
		Roles: []string{"physician"}, Password: "violet-harbor-lantern-42"}, audit.Actor{UserID: "admin"}, audit.Origin{}); err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux, "/auth")

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
func ExampleService_Elevate() {
	users := memstore.NewUserStore()
	u := exampleUser(users)
	p, err := policy.Parse([]byte(`{"version":1,"permissions":["patient:read"],"roles":[
		{"name":"physician","permissions":["patient:read"]},
		{"name":"er_override","emergency":true,"eligible_roles":["physician"],"max_duration":"1h","permissions":["patient:read"]}]}`))
	if err != nil {
		panic(err)
	}
	sessions := exampleService(users, func(c *auth.Config) {
		c.RBAC = p.RBAC
		c.OnEmergency = func(_ context.Context, a auth.EmergencyAlert) {
			fmt.Println("alert: started", a.Started, "role", a.Access.Role)
		}
	})
	_, tok, _ := sessions.Begin(context.Background(), nil, nil, u, true)

	elevate := sessions.Session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _, err := sessions.Elevate(w, r, "er_override", "patient unconscious, chart locked", 30*time.Minute)
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
func csrfFromCookie(sessions *auth.Service, tok string) string {
	var c string
	h := sessions.Session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c = sessions.CSRFToken(r) }))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	h.ServeHTTP(httptest.NewRecorder(), r)
	return c
}
