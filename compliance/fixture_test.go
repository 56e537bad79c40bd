package compliance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/hipaakit/hipaakit/clock"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// fixture is a minimal service written only to exercise the suite: an
// in-memory clinic with sessions, roles, an audit slice and a logger. The
// broken flags turn one safeguard off each, to prove the matching check fails.
type fixture struct {
	broken string // "" or the name of the one safeguard to leave out (see TestBrokenHandlersFail)

	mu       sync.Mutex
	clock    clock.Clock // the fake one in-process; the real one over TLS (remote_test.go)
	fake     *clock.Fake
	idle     time.Duration
	absolute time.Duration
	users    map[string]*fxUser // by user name
	sessions map[string]*fxSession
	events   []audit.Event
	patient  string
	dob      string
	logs     bytes.Buffer
	log      *slog.Logger
	mux      *http.ServeMux
}

type fxUser struct {
	id, role, password, secret string
	failures                   int
	lastStep                   int64
}

type fxSession struct {
	userID, role, reason, csrf string
	created, seen              time.Time
	mfa                        bool // the second factor was completed
}

const (
	fxIdle     = 15 * time.Minute
	fxAbsolute = 2 * time.Hour
	fxLockout  = 5
)

func newFixture(broken string) *fixture {
	fake := clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	f := &fixture{broken: broken, clock: fake, fake: fake, idle: fxIdle, absolute: fxAbsolute,
		users: map[string]*fxUser{}, sessions: map[string]*fxSession{}}
	f.log = slog.New(slog.NewTextHandler(&f.logs, nil))
	f.mux = http.NewServeMux()
	f.route("GET /patients/p-1", []string{"physician", "nurse"}, true, f.readPatient)
	f.route("PUT /patients/p-1", []string{"physician"}, true, f.writePatient)
	f.route("GET /schedule", []string{"physician", "nurse", "frontdesk"}, false, func(w http.ResponseWriter, r *http.Request, s *fxSession) {
		w.Write([]byte(`{"slots":[]}`))
	})
	f.route("POST /logout", nil, false, func(w http.ResponseWriter, r *http.Request, s *fxSession) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for tok, ss := range f.sessions {
			if ss == s {
				delete(f.sessions, tok)
			}
		}
	})
	f.route("POST /emergency", []string{"nurse", "frontdesk"}, false, f.emergency)
	return f
}

func (f *fixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.TLS != nil && f.broken != "no-hsts" {
		h.Set("Strict-Transport-Security", "max-age=63072000")
	}
	if f.broken != "cacheable-schedule" || r.URL.Path != "/schedule" {
		h.Set("Cache-Control", "no-store")
	}
	if f.broken == "echoes-canary" && r.URL.Query().Get("q") != "" {
		http.Error(w, `{"error":"no such search: `+r.URL.Query().Get("q")+`"}`, http.StatusNotFound)
		return
	}
	f.mux.ServeHTTP(w, r)
}

func (f *fixture) record(e audit.Event) {
	e.Time = f.clock.Now()
	f.events = append(f.events, e)
}

// route registers a handler behind session and role checks. roles == nil
// means "any logged-in user".
func (f *fixture) route(pattern string, roles []string, phi bool, h func(http.ResponseWriter, *http.Request, *fxSession)) {
	f.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		s := f.sessionOf(r)
		if s == nil {
			f.mu.Unlock()
			http.Error(w, `{"error":"unauthenticated"}`, http.StatusUnauthorized)
			return
		}
		role := s.role
		if hdr := r.Header.Get("X-Role"); f.broken == "trusts-role-header" && hdr != "" {
			role = hdr
		}
		if !s.mfa && f.broken != "no-mfa-enforcement" && pattern != "POST /logout" {
			f.mu.Unlock()
			http.Error(w, `{"error":"mfa_required"}`, http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && pattern != "POST /logout" && f.broken != "no-csrf" &&
			(r.Header.Get("X-CSRF-Token") != s.csrf || r.Header.Get("Sec-Fetch-Site") == "cross-site") {
			f.mu.Unlock()
			http.Error(w, `{"error":"csrf"}`, http.StatusForbidden)
			return
		}
		if s.reason != "" {
			role = "physician" // break-glass elevation
		}
		skipCheck := f.broken == "missing-permission" && pattern == "PUT /patients/p-1"
		if roles != nil && !slices.Contains(roles, role) && !skipCheck {
			f.record(audit.Event{Action: audit.ActionPermissionDenied, Outcome: audit.OutcomeFailure,
				Actor: audit.Actor{UserID: s.userID, Role: role}, Origin: audit.Origin{Route: pattern}})
			f.mu.Unlock()
			http.Error(w, `{"error":"forbidden"}`, http.StatusForbidden)
			return
		}
		f.mu.Unlock()
		if phi {
			w.Header().Set("Cache-Control", "no-store")
		}
		h(w, r, s)
	})
}

func (f *fixture) sessionOf(r *http.Request) *fxSession {
	c, err := r.Cookie("sid")
	if err != nil {
		return nil
	}
	s := f.sessions[c.Value]
	if s == nil {
		return nil
	}
	now := f.clock.Now()
	idle := now.Sub(s.seen) > f.idle && f.broken != "no-idle-timeout"
	if s == nil || idle || now.Sub(s.created) > f.absolute {
		delete(f.sessions, c.Value)
		return nil
	}
	s.seen = now
	return s
}

func (f *fixture) actor(s *fxSession) audit.Actor {
	return audit.Actor{UserID: s.userID, Role: s.role, Emergency: s.reason != "", EmergencyReason: s.reason}
}

func (f *fixture) readPatient(w http.ResponseWriter, r *http.Request, s *fxSession) {
	f.mu.Lock()
	name, dob := f.patient, f.dob
	if f.broken != "unaudited-read" {
		for _, field := range []string{"name", "dob"} {
			if field == "dob" && f.broken == "open-without-reveal" {
				continue // opened and returned, never audited
			}
			f.record(audit.Event{Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Actor: f.actor(s),
				Target: audit.Target{RecordType: "patient", RecordID: "p-1", Subject: "p-1", Field: field}})
		}
	}
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"name": name, "dob": dob})
}

func (f *fixture) writePatient(w http.ResponseWriter, r *http.Request, s *fxSession) {
	var body struct{ Name, DOB string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	if f.broken == "leaked-canary" {
		f.log.Info("patient updated", "name", body.Name)
	} else {
		f.log.Info("patient updated", "record", "p-1")
	}
	f.mu.Lock()
	f.patient = body.Name
	if body.DOB != "" {
		f.dob = body.DOB
	}
	f.record(audit.Event{Action: audit.ActionUpdate, Outcome: audit.OutcomeSuccess, Actor: f.actor(s),
		Target: audit.Target{RecordType: "patient", RecordID: "p-1", Subject: "p-1", Field: "name"},
		Change: &audit.Change{New: []byte("sealed-new"), Prior: []byte("sealed-prior")}})
	f.mu.Unlock()
	w.Write([]byte(`{"ok":true}`))
}

func (f *fixture) emergency(w http.ResponseWriter, r *http.Request, s *fxSession) {
	var body struct{ Reason string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.Reason == "" {
		http.Error(w, `{"error":"a reason is required"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := f.newSession(s.userID, s.role)
	f.sessions[tok].reason, f.sessions[tok].mfa = body.Reason, s.mfa
	f.record(audit.Event{Action: audit.ActionEmergencyAccess, Outcome: audit.OutcomeSuccess, Actor: f.actor(f.sessions[tok])})
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: tok})
	w.Header().Set("X-New-CSRF-Token", f.sessions[tok].csrf)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fixture) newSession(userID, role string) string {
	tok := randomHex(32)
	now := f.clock.Now()
	f.sessions[tok] = &fxSession{userID: userID, role: role, created: now, seen: now, csrf: randomHex(16)}
	return tok
}

func (f *fixture) newUser(role string) *fxUser {
	key, _ := totp.Generate(totp.GenerateOpts{Issuer: "fixture", AccountName: "u"})
	u := &fxUser{id: "u-" + randomHex(8), role: role, password: randomHex(12), secret: key.Secret()}
	f.users[u.id] = u
	return u
}

func (f *fixture) login(u *fxUser, password string) (string, error) {
	if u.failures >= fxLockout {
		return "", errors.New("locked")
	}
	if password != u.password {
		u.failures++
		return "", errors.New("invalid credentials")
	}
	u.failures = 0
	return f.newSession(u.id, u.role), nil
}

func (f *fixture) service() Service {
	return Service{
		Handler: f,
		Roles:   []string{"physician", "nurse", "frontdesk", "auditor"},
		Served:  []auth.Route{{Pattern: "GET /patients/{id}", PHI: true}, {Pattern: "PUT /patients/{id}", PHI: true}, {Pattern: "GET /schedule"}},
		Routes: []Route{
			{Method: "GET", Path: "/patients/p-1", Pattern: "GET /patients/{id}", Roles: []string{"physician", "nurse"}, PHI: true, Subject: "p-1"},
			{Method: "PUT", Path: "/patients/p-1", Pattern: "PUT /patients/{id}", Roles: []string{"physician"}, PHI: true, Subject: "p-1", Body: `{"name":"Jane Roe"}`},
			{Method: "GET", Path: "/schedule", Roles: []string{"physician", "nurse", "frontdesk"}},
		},
		Login: func(t testing.TB, role string) Session {
			f.mu.Lock()
			defer f.mu.Unlock()
			u := f.newUser(role)
			tok, err := f.login(u, u.password)
			if err != nil {
				t.Fatal(err)
			}
			f.sessions[tok].mfa = true // the fixture's second step, in one go
			return f.clientSession(u.id, tok)
		},
		RequireMFA: true,
		PasswordLogin: func(t testing.TB, role string) Session {
			f.mu.Lock()
			defer f.mu.Unlock()
			u := f.newUser(role)
			tok, err := f.login(u, u.password)
			if err != nil {
				t.Fatal(err)
			}
			return f.clientSession(u.id, tok)
		},
		Logout:          Route{Method: "POST", Path: "/logout"},
		Clock:           f.fake,
		IdleTimeout:     fxIdle,
		AbsoluteTimeout: fxAbsolute,
		ChangePassword: func(t testing.TB, s Session) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.users[s.UserID].password = randomHex(12)
			for tok, ss := range f.sessions {
				if ss.userID == s.UserID {
					delete(f.sessions, tok)
				}
			}
		},
		TOTP: func(t testing.TB) (string, func(string) bool) {
			f.mu.Lock()
			u := f.newUser("nurse")
			f.mu.Unlock()
			return u.secret, func(code string) bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				now := f.clock.Now()
				step := now.Unix() / 30
				if step <= u.lastStep || !validAt(code, u.secret, now) {
					return false
				}
				u.lastStep = step
				return true
			}
		},
		NewCredentials: func(t testing.TB) Credentials {
			f.mu.Lock()
			defer f.mu.Unlock()
			u := f.newUser("nurse")
			return Credentials{Username: u.id, Password: u.password}
		},
		TryLogin: func(t testing.TB, c Credentials) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			u, ok := f.users[c.Username]
			if !ok {
				return false
			}
			_, err := f.login(u, c.Password)
			return err == nil
		},
		LockoutThreshold: fxLockout,
		Events: func(context.Context) ([]audit.Event, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return append([]audit.Event(nil), f.events...), nil
		},
		VerifyAudit: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, e := range f.events {
				if i > 0 && e.Time.Before(f.events[i-1].Time) {
					return errors.New("events out of order")
				}
			}
			return nil
		},
		Logs: func() string {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.logs.String()
		},
		SeedCanary: func(t testing.TB, s Session, canary string) []Route {
			req := Route{Method: "PUT", Path: "/patients/p-1", Body: `{"name":"` + canary + `"}`}
			if res := f.serve(req, s); res.Code/100 != 2 {
				t.Fatalf("seeding the canary: %d", res.Code)
			}
			return []Route{{Method: "GET", Path: "/patients/p-1", Roles: []string{"physician", "nurse"}}}
		},
		CanaryRole: "physician",
		SeedFields: func(t testing.TB, s Session) ([]Route, map[string]string) {
			values := map[string]string{"name": "FIELD-CANARY-name-" + randomHex(4), "dob": "FIELD-CANARY-dob-" + randomHex(4)}
			b, _ := json.Marshal(map[string]string{"name": values["name"], "dob": values["dob"]})
			if res := f.serve(Route{Method: "PUT", Path: "/patients/p-1", Body: string(b)}, s); res.Code/100 != 2 {
				t.Fatalf("seeding the fields: %d", res.Code)
			}
			return []Route{{Method: "GET", Path: "/patients/p-1", Pattern: "GET /patients/{id}"}}, values
		},
		Emergency:      f.requestEmergency,
		EmergencyRole:  "frontdesk",
		EmergencyRoute: Route{Method: "GET", Path: "/patients/p-1", Pattern: "GET /patients/{id}"},
	}
}

func validAt(code, secret string, at time.Time) bool {
	ok, _ := totp.ValidateCustom(code, secret, at, totp.ValidateOpts{Period: 30, Digits: 6})
	return ok
}

func (f *fixture) requestEmergency(t testing.TB, s Session, reason string) (Session, bool) {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	res := f.serve(Route{Method: "POST", Path: "/emergency", Body: string(body)}, s)
	if res.Code/100 != 2 {
		return Session{}, false
	}
	resp := http.Response{Header: res.Header()}
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			return Session{UserID: s.UserID, Cookies: []*http.Cookie{c}, Header: http.Header{"X-Csrf-Token": {res.Header().Get("X-New-CSRF-Token")}}}, true
		}
	}
	return Session{}, false
}

// clientSession is what a client of the fixture holds after a login.
func (f *fixture) clientSession(userID, tok string) Session {
	return Session{UserID: userID, Cookies: []*http.Cookie{{Name: "sid", Value: tok}},
		Header: http.Header{"X-Csrf-Token": {f.sessions[tok].csrf}}}
}

// serve sends one request with session s straight to the fixture.
func (f *fixture) serve(rt Route, s Session) *httptest.ResponseRecorder {
	req := httptest.NewRequest(rt.Method, rt.Path, strings.NewReader(rt.Body))
	req.Header.Set("Content-Type", "application/json")
	for _, c := range s.Cookies {
		req.AddCookie(c)
	}
	for k, vs := range s.Header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	return rec
}
