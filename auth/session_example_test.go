package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// exampleService builds a Service over memory stores (a deployment uses
// auth/filestore or auth/pgauth and a durable audit trail); mod adjusts the
// Config.
func exampleService(users auth.UserStore, mod func(*auth.Config)) *auth.Service {
	cfg := auth.Config{Users: users, Sessions: memstore.NewSessionStore(), Emergencies: memstore.NewEmergencyLog(),
		Audit: audit.Discard{}, Argon2: fastArgon2}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := auth.New(cfg)
	if err != nil {
		panic(err)
	}
	return svc
}

// exampleUser creates an active physician in users.
func exampleUser(users auth.UserStore) *auth.User {
	u := &auth.User{ID: auth.NewUserID(), TenantID: "clinic-a", Name: "ana", Status: auth.StatusActive, Roles: []string{"physician"}}
	if err := users.Create(context.Background(), u); err != nil {
		panic(err)
	}
	return u
}

// A session begins after a successful login, travels in a __Host- cookie,
// and ends server-side at logout.
func ExampleService_Begin() {
	users := memstore.NewUserStore()
	u := exampleUser(users)
	sessions := exampleService(users, nil)

	// After Service.Login succeeded:
	rr := httptest.NewRecorder()
	_, _, err := sessions.Begin(context.Background(), rr, httptest.NewRequest("POST", "/login", nil), u, true)
	if err != nil {
		panic(err)
	}
	cookie := rr.Result().Cookies()[0]
	fmt.Println(cookie.Name, cookie.Secure, cookie.HttpOnly, cookie.SameSite == http.SameSiteStrictMode)

	app := sessions.Session(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, _ := auth.ActorFromRequest(r)
		fmt.Println("request by", actor.UserID == u.ID, actor.Role)
	}))
	req := httptest.NewRequest("GET", "/chart", nil)
	req.AddCookie(cookie)
	app.ServeHTTP(httptest.NewRecorder(), req)

	if err := sessions.Logout(httptest.NewRecorder(), req); err != nil {
		panic(err)
	}
	after := httptest.NewRecorder()
	app.ServeHTTP(after, req)
	fmt.Println("after logout:", after.Code)
	// Output:
	// __Host-hk_session true true true
	// request by true physician
	// after logout: 401
}

// The routes of a Service are deny by default: only routes registered with
// a permission are reachable, and only by roles that grant it.
func ExampleService_Handle() {
	users := memstore.NewUserStore()
	u := exampleUser(users)
	rbac, err := policy.NewRBAC(
		[]policy.Permission{"patient:read", "lab_result:update"},
		[]policy.Role{
			{Name: "physician", Permissions: []policy.Permission{"patient:read"}},
			{Name: "lab_assistant", Permissions: []policy.Permission{"lab_result:update"}},
		})
	if err != nil {
		panic(err)
	}
	sessions := exampleService(users, func(c *auth.Config) { c.RBAC = rbac })
	ok := func(w http.ResponseWriter, r *http.Request) {}
	sessions.HandleFunc("GET /patients/{id}", "patient:read", ok)
	sessions.HandleFunc("GET /labs/{id}", "lab_result:update", ok)
	app := sessions.Handler() // session → policy → RBAC → route

	_, tok, err := sessions.Begin(context.Background(), nil, nil, u, true)
	if err != nil {
		panic(err)
	}
	for _, path := range []string{"/patients/7", "/labs/7", "/admin"} {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
		rr := httptest.NewRecorder()
		app.ServeHTTP(rr, req)
		fmt.Println(path, rr.Code)
	}
	// Output:
	// /patients/7 200
	// /labs/7 403
	// /admin 404
}
