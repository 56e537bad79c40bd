package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmarks measure the handlers, not the recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

var benchOK = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }

// benchChain returns the full chain (session → policy → RBAC → audit) with
// a warm session, and the request that carries it.
func benchChain(b *testing.B, withAudit bool) (http.Handler, *http.Request) {
	users := auth.NewMemoryUserStore()
	u := &auth.User{ID: auth.NewUserID(), TenantID: "clinic-a", Name: "doc", Status: auth.StatusActive, Roles: []string{"physician"}}
	if err := users.Create(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	sm := auth.NewSessionManager(auth.NewMemorySessionStore(), users, audit.Discard{})
	sm.Clock = clock.NewFake(t0) // a warm session: activity within TouchInterval
	pol, err := policy.Parse([]byte(`{"version":1,"permissions":["patient:read"],"roles":[{"name":"physician","permissions":["patient:read"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	sm.Policies = pol.Tenants
	g := auth.NewGuard(sm, pol.RBAC)
	g.HandleFunc("GET /patients/{id}", "patient:read", benchOK)
	var inner http.Handler = g
	if withAudit {
		mw, err := audit.Middleware(audit.MiddlewareConfig{Writer: audit.Discard{}, Actor: auth.ActorFromRequest,
			Subject: func(*http.Request) string { return "" }})
		if err != nil {
			b.Fatal(err)
		}
		inner = mw(g)
	}
	h := sm.Middleware(sm.EnforcePolicy(inner))
	_, tok, err := sm.Begin(context.Background(), nil, nil, u, true)
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/patients/42", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok})
	return h, r
}

func runBench(b *testing.B, h http.Handler, r *http.Request) {
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddlewareBareHandler is the baseline: the same request straight
// into the handler.
func BenchmarkMiddlewareBareHandler(b *testing.B) {
	r := httptest.NewRequest("GET", "/patients/42", nil)
	runBench(b, http.HandlerFunc(benchOK), r)
}

// BenchmarkMiddlewareBareMux is the baseline with routing: the same request
// through an http.ServeMux holding the same pattern.
func BenchmarkMiddlewareBareMux(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /patients/{id}", benchOK)
	runBench(b, mux, httptest.NewRequest("GET", "/patients/42", nil))
}

// BenchmarkMiddlewareChain is session → policy → RBAC (Guard, which routes)
// with a warm session.
func BenchmarkMiddlewareChain(b *testing.B) {
	h, r := benchChain(b, false)
	runBench(b, h, r)
}

// BenchmarkMiddlewareChainWithAudit adds audit's access-recording middleware
// (writing to audit.Discard, so the storage cost is left out).
func BenchmarkMiddlewareChainWithAudit(b *testing.B) {
	h, r := benchChain(b, true)
	runBench(b, h, r)
}
