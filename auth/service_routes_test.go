package auth_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/hipaakit/hipaakit/auth"
)

// Routes lists every route Handler serves, sorted by pattern, with its
// permission and flags; a PHI route's answers are never cached, even when
// its handler says otherwise; other routes keep what the handler set.
func TestServiceRoutes(t *testing.T) {
	e := newSvcEnv(t)
	ok := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("ok"))
	}
	if got := e.svc.Routes(); len(got) != 0 {
		t.Fatalf("routes before any Handle: %+v", got)
	}
	e.svc.HandleFunc("PUT /patients/{id}", "patient:write", ok, auth.PHI(), auth.Sensitive())
	e.svc.HandleFunc("GET /patients/{id}", "patient:read", ok, auth.PHI())
	e.svc.HandleFunc("GET /labs/{id}", "lab_result:update", ok)
	want := []auth.Route{
		{Pattern: "GET /labs/{id}", Permission: "lab_result:update"},
		{Pattern: "GET /patients/{id}", Permission: "patient:read", PHI: true},
		{Pattern: "PUT /patients/{id}", Permission: "patient:write", PHI: true, Sensitive: true},
	}
	got := e.svc.Routes()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Routes:\n got %+v\nwant %+v", got, want)
	}
	got[0].Permission = "changed:by_caller"
	if e.svc.Routes()[0].Permission != "lab_result:update" {
		t.Fatal("Routes returned the guard's own state")
	}

	h := e.svc.Handler()
	doc := e.signIn(t, "doc", "physician")
	if rr := do(h, "GET", "/patients/1", doc); rr.Code != 200 || rr.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("PHI route: %d, Cache-Control %q", rr.Code, rr.Header().Get("Cache-Control"))
	}
	lab := e.signIn(t, "lab", "lab_assistant")
	if rr := do(h, "GET", "/labs/1", lab); rr.Code != 200 || rr.Header().Get("Cache-Control") != "max-age=60" {
		t.Fatalf("route without PHI: %d, Cache-Control %q", rr.Code, rr.Header().Get("Cache-Control"))
	}
}
