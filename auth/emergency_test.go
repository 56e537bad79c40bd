package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

type alerts struct {
	mu sync.Mutex
	a  []auth.EmergencyAlert
}

func (a *alerts) hook(_ context.Context, x auth.EmergencyAlert) {
	a.mu.Lock()
	a.a = append(a.a, x)
	a.mu.Unlock()
}
func (a *alerts) all() []auth.EmergencyAlert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]auth.EmergencyAlert(nil), a.a...)
}

// elevate calls Guard.Elevate from inside the session middleware.
func elevate(t *testing.T, e *env, g *auth.Guard, tok, role, reason string, d time.Duration) (string, auth.EmergencyAccess, error) {
	t.Helper()
	var acc auth.EmergencyAccess
	var err error
	h := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, _, err = g.Elevate(w, r, role, reason, d)
	}))
	rr := do(h, "POST", "/elevate", tok, "X-CSRF-Token", csrfOf(t, e, tok))
	if c := sessionCookie(rr); c != nil {
		return c.Value, acc, err
	}
	return tok, acc, err
}

func TestBreakGlassLifecycle(t *testing.T) {
	e, g, h := guardEnv(t)
	var al alerts
	e.sm.OnEmergency = al.hook
	doc := e.addUser("doc", "physician")
	tok := e.login(doc, true)
	if do(h, "PUT", "/labs/9", tok, "X-CSRF-Token", csrfOf(t, e, tok)).Code != 403 {
		t.Fatal("precondition: a physician cannot update labs")
	}
	newTok, acc, err := elevate(t, e, g, tok, "er_override", "patient unconscious, chart locked", 30*time.Minute)
	if err != nil {
		t.Fatalf("Elevate: %v", err)
	}
	if newTok == tok {
		t.Fatal("elevation did not rotate the token")
	}
	if do(h, "GET", "/patients/1", tok).Code != 401 {
		t.Fatal("pre-elevation token still valid")
	}
	if acc.Role != "er_override" || !acc.Until.Equal(t0.Add(30*time.Minute)) || acc.Reason == "" {
		t.Fatalf("access record: %+v", acc)
	}
	// Every action during the elevation carries the emergency flag.
	var actor audit.Actor
	probe := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { actor, _ = auth.ActorFromRequest(r) }))
	do(probe, "GET", "/", newTok)
	if !actor.Emergency || actor.EmergencyReason != "patient unconscious, chart locked" || actor.Role != "er_override" || actor.UserID != doc.ID {
		t.Fatalf("actor during break-glass: %+v", actor)
	}
	if rr := do(h, "PUT", "/labs/9", newTok, "X-CSRF-Token", csrfOf(t, e, newTok)); rr.Code != 200 {
		t.Fatalf("emergency role does not grant its permission: %d", rr.Code)
	}
	if a := al.all(); len(a) != 1 || !a[0].Started || a[0].Access.ID != acc.ID {
		t.Fatalf("start alert: %+v", a)
	}
	starts := e.rec.find(audit.ActionEmergencyAccess, "start")
	if len(starts) != 1 || !starts[0].Actor.Emergency {
		t.Fatalf("start event: %+v", starts)
	}
	// Time runs out: the next request sees the plain role again.
	e.clk.Advance(10 * time.Minute)
	do(probe, "GET", "/", newTok)
	e.clk.Advance(10 * time.Minute)
	do(probe, "GET", "/", newTok)
	e.clk.Advance(11 * time.Minute)
	do(probe, "GET", "/", newTok)
	if actor.Emergency || actor.Role != "physician" {
		t.Fatalf("actor after the elevation expired: %+v", actor)
	}
	if rr := do(h, "PUT", "/labs/9", newTok, "X-CSRF-Token", csrfOf(t, e, newTok)); rr.Code != 403 {
		t.Fatalf("expired elevation still grants: %d", rr.Code)
	}
	if a := al.all(); len(a) != 2 || a[1].Started || a[1].Access.EndReason != "expired" {
		t.Fatalf("end alert: %+v", a)
	}
	rep, err := e.sm.EmergencyReport(context.Background(), t0, t0.Add(24*time.Hour))
	if err != nil || len(rep) != 1 || rep[0].EndReason != "expired" || !rep[0].EndedAt.Equal(acc.Until) || rep[0].UserID != doc.ID {
		t.Fatalf("report: %v %+v", err, rep)
	}
	if len(e.rec.find(audit.ActionEmergencyAccess, "end")) != 1 {
		t.Fatal("end not audited")
	}
}

func TestBreakGlassRefusals(t *testing.T) {
	e, g, _ := guardEnv(t)
	lab := e.addUser("lab", "lab_assistant")
	doc := e.addUser("doc", "physician")
	lt, dt := e.login(lab, true), e.login(doc, true)
	for name, c := range map[string]struct {
		tok, role, reason string
		d                 time.Duration
	}{
		"not eligible":      {lt, "er_override", "need it", 0},
		"not an emergency":  {dt, "lab_assistant", "need it", 0},
		"unknown role":      {dt, "god", "need it", 0},
		"no reason":         {dt, "er_override", "", 0},
		"blank reason":      {dt, "er_override", "   ", 0},
		"control character": {dt, "er_override", "x\x00y", 0},
		"too long":          {dt, "er_override", "need it", 2 * time.Hour},
		"negative":          {dt, "er_override", "need it", -time.Minute},
	} {
		if _, _, err := elevate(t, e, g, c.tok, c.role, c.reason, c.d); !errors.Is(err, auth.ErrEmergencyDenied) {
			t.Errorf("%s: got %v, want ErrEmergencyDenied", name, err)
		}
	}
	if got := len(e.rec.find(audit.ActionPermissionDenied, "")); got != 8 {
		t.Fatalf("%d refusals audited, want 8", got)
	}
	// Audit unavailable: no elevation.
	e.rec.setFail(true)
	if _, _, err := elevate(t, e, g, dt, "er_override", "need it for the chart review now", 0); err == nil {
		t.Fatal("elevation without an audit record")
	}
	e.rec.setFail(false)
	rep, _ := e.sm.EmergencyReport(context.Background(), t0, t0.Add(time.Hour))
	if len(rep) != 1 || rep[0].EndReason != "audit_failed" {
		t.Fatalf("an elevation refused for want of audit must show in the report as such: %+v", rep)
	}
}

func TestBreakGlassEndsWithLogoutAndExplicitly(t *testing.T) {
	e, g, _ := guardEnv(t)
	var al alerts
	e.sm.OnEmergency = al.hook
	doc := e.addUser("doc", "physician")
	tok, _, err := elevate(t, e, g, e.login(doc, true), "er_override", "mass casualty incident, trauma bay", 0)
	if err != nil {
		t.Fatal(err)
	}
	end := e.sm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := e.sm.EndEmergency(w, r); err != nil {
			t.Error(err)
		}
	}))
	do(end, "POST", "/end", tok, "X-CSRF-Token", csrfOf(t, e, tok))
	e.clk.Advance(time.Minute)
	tok2, _, err := elevate(t, e, g, tok, "er_override", "again for the second trauma patient", 0)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/logout", nil)
	r.AddCookie(&http.Cookie{Name: auth.DefaultCookieName, Value: tok2})
	if err := e.sm.Logout(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	rep, _ := e.sm.EmergencyReport(context.Background(), t0, t0.Add(time.Hour))
	if len(rep) != 2 || rep[0].EndReason != "ended" || rep[1].EndReason != "logout" {
		t.Fatalf("report: %+v", rep)
	}
	if len(al.all()) != 4 {
		t.Fatalf("%d alerts, want 4 (two starts, two ends)", len(al.all()))
	}
}
