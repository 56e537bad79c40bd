package auth_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
)

// pausingPolicies blocks the first TenantPolicy call after arm until
// release is closed: a request paused between loading its session and
// writing its activity update.
type pausingPolicies struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (p *pausingPolicies) arm() {
	p.mu.Lock()
	p.armed, p.entered, p.release = true, make(chan struct{}), make(chan struct{})
	p.mu.Unlock()
}

func (p *pausingPolicies) TenantPolicy(ctx context.Context, tenantID string) (policy.Tenant, error) {
	p.mu.Lock()
	armed := p.armed
	p.armed = false
	entered, release := p.entered, p.release
	p.mu.Unlock()
	if armed {
		close(entered)
		<-release
	}
	return policy.Tenant{TenantID: tenantID}, nil
}

// Found in review: a request that loaded the session before EndEmergency
// wrote the whole session back (grant included) with its activity update,
// so the emergency role stayed active although the end was audited.
func TestEndEmergencyNotUndoneByRequestInFlight(t *testing.T) {
	for _, end := range []string{"ended", "expired"} {
		t.Run(end, func(t *testing.T) {
			e, g, h := guardEnv(t)
			pol := &pausingPolicies{}
			e.sm.Policies = pol
			doc := e.addUser("doc", "physician")
			tok, _, err := elevate(t, e, g, e.login(doc, true), "er_override", "mass casualty incident, trauma bay", 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			csrf := csrfOf(t, e, tok)
			if rr := do(h, "PUT", "/labs/9", tok, "X-CSRF-Token", csrf); rr.Code != 200 {
				t.Fatalf("precondition: elevated: %d", rr.Code)
			}
			if end == "ended" {
				e.clk.Advance(time.Minute) // the next requests write their activity
			} else {
				e.clk.Advance(9*time.Minute + 59*time.Second)
			}

			pol.arm()
			done := make(chan struct{})
			go func() { // request B: loads the session, then pauses
				defer close(done)
				do(h, "GET", "/patients/1", tok)
			}()
			<-pol.entered
			// request A ends the access
			if end == "ended" {
				endH := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if err := e.sm.EndEmergency(w, r); err != nil {
						t.Error(err)
					}
				}))
				do(endH, "POST", "/end", tok, "X-CSRF-Token", csrf)
			} else {
				e.clk.Advance(2 * time.Second)
				do(h, "GET", "/patients/1", tok)
			}
			close(pol.release) // B writes its activity update
			<-done

			if rr := do(h, "PUT", "/labs/9", tok, "X-CSRF-Token", csrf); rr.Code != 403 {
				t.Fatalf("after the emergency access ended, a request in flight restored it: %d", rr.Code)
			}
			var p *auth.Principal
			do(e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ = auth.PrincipalFromContext(r.Context())
			})), "GET", "/", tok)
			if p == nil || p.Emergency != nil {
				t.Fatalf("principal after the end: %+v", p)
			}
			rep, _ := e.sm.EmergencyReport(context.Background(), t0, t0.Add(time.Hour))
			if len(rep) != 1 || rep[0].EndReason != end {
				t.Fatalf("report: %+v", rep)
			}
			if n := len(e.rec.find(audit.ActionEmergencyAccess, "end")); n != 1 {
				t.Fatalf("the end was audited %d times, want once", n)
			}
		})
	}
}
