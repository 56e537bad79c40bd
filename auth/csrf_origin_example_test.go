package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/memstore"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// An HTML login form, served without a session, refuses cross-origin posts
// with the same check the session middleware applies.
func ExampleService_CheckCrossOrigin() {
	sessions := exampleService(memstore.NewUserStore(), nil)
	loginForm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.CheckCrossOrigin(r); err != nil {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		// ... r.ParseForm, Service.Login, Service.Begin
	})
	r := httptest.NewRequest("POST", "https://clinic.example/login", nil)
	r.Header.Set("Origin", "https://evil.example")
	rr := httptest.NewRecorder()
	loginForm.ServeHTTP(rr, r)
	fmt.Println(rr.Code)
	// Output: 403
}

// SubjectParam names the path wildcard that holds the requested patient, so
// that a refused attempt to reach another patient's records names that
// patient in the permission_denied event.
func ExampleSubjectParam() {
	rbac, err := policy.NewRBAC([]policy.Permission{"chart:read"}, []policy.Role{{Name: "patient", Permissions: []policy.Permission{"chart:read"}}})
	if err != nil {
		panic(err)
	}
	g := exampleService(memstore.NewUserStore(), func(c *auth.Config) { c.RBAC = rbac })
	ownRecords := auth.Check(func(r *http.Request, p *auth.Principal) (bool, error) {
		return r.PathValue("patient") == p.UserID, nil
	})
	g.HandleFunc("GET /patients/{patient}/chart", "chart:read", func(http.ResponseWriter, *http.Request) {},
		ownRecords, auth.SubjectParam("patient"))
	// Serve g.Handler(); a denial of GET /patients/p-2/chart
	// records permission_denied with Target.Subject "p-2".
}
