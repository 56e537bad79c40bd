package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/audittest"
	"github.com/hipaakit/hipaakit/clock"
)

type mwActorKey struct{}

func mwActor(r *http.Request) (audit.Actor, bool) {
	a, ok := r.Context().Value(mwActorKey{}).(audit.Actor)
	return a, ok
}

func withActor(r *http.Request, a audit.Actor) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), mwActorKey{}, a))
}

var mwStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newMux serves handler h on GET/POST/DELETE /patients/{id} behind the audit
// middleware built from cfg (Writer, Actor and Subject filled in when unset).
func newMux(t testing.TB, cfg audit.MiddlewareConfig, h http.HandlerFunc) (http.Handler, *audittest.Memory) {
	t.Helper()
	rec := &audittest.Memory{}
	if cfg.Writer == nil {
		cfg.Writer = rec
	}
	if cfg.Actor == nil {
		cfg.Actor = mwActor
	}
	if cfg.Subject == nil {
		cfg.Subject = func(r *http.Request) string { return r.PathValue("id") }
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewFake(mwStart)
	}
	mw, err := audit.Middleware(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/patients/{id}", h)
	return mw(mux), rec
}

func TestMiddlewareRecordsRequest(t *testing.T) {
	h, rec := newMux(t, audit.MiddlewareConfig{
		Record:    func(r *http.Request) (string, string) { return "patient", r.PathValue("id") },
		Purpose:   func(*http.Request) string { return "treatment" },
		RequestID: func(*http.Request) string { return "req-1" },
		Channel:   audit.ChannelAPI,
	}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	req := httptest.NewRequest(http.MethodGet, "/patients/p-42", nil)
	req.RemoteAddr = "203.0.113.9:4711"
	req.Header.Set("User-Agent", "ua/1")
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	req = withActor(req, audit.Actor{UserID: "u-1", Role: "nurse", SessionID: "s-1"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)

	if w.Code != http.StatusOK || w.Body.String() != `{"ok":true}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("response changed: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	evs := rec.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	e := evs[0]
	want := audit.Event{
		Time:    mwStart,
		Action:  audit.ActionRead,
		Outcome: audit.OutcomeSuccess,
		Actor:   audit.Actor{UserID: "u-1", Role: "nurse", SessionID: "s-1"},
		Origin: audit.Origin{Channel: audit.ChannelAPI, ClientIP: "203.0.113.9", UserAgent: "ua/1",
			RequestID: "req-1", Route: "/patients/{id}"},
		Target:  audit.Target{RecordType: "patient", RecordID: "p-42", Subject: "p-42"},
		Purpose: "treatment",
		Attrs:   map[string]string{"status": "200"},
	}
	if got, exp := fmt.Sprintf("%+v", e), fmt.Sprintf("%+v", want); got != exp {
		t.Fatalf("event\n got %s\nwant %s", got, exp)
	}
}

func TestMiddlewareActionsAndOutcomes(t *testing.T) {
	cases := []struct {
		method  string
		status  int
		action  audit.Action
		outcome audit.Outcome
		reason  string
	}{
		{http.MethodGet, 200, audit.ActionRead, audit.OutcomeSuccess, ""},
		{http.MethodHead, 304, audit.ActionRead, audit.OutcomeSuccess, ""},
		{http.MethodPost, 201, audit.ActionCreate, audit.OutcomeSuccess, ""},
		{http.MethodPut, 204, audit.ActionUpdate, audit.OutcomeSuccess, ""},
		{http.MethodPatch, 200, audit.ActionUpdate, audit.OutcomeSuccess, ""},
		{http.MethodDelete, 200, audit.ActionDelete, audit.OutcomeSuccess, ""},
		{http.MethodGet, 401, audit.ActionRead, audit.OutcomeFailure, "http_401"},
		{http.MethodDelete, 403, audit.ActionDelete, audit.OutcomeFailure, "http_403"},
		{http.MethodGet, 404, audit.ActionRead, audit.OutcomeFailure, "http_404"},
		{http.MethodPost, 500, audit.ActionCreate, audit.OutcomeFailure, "http_500"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%d", c.method, c.status), func(t *testing.T) {
			h, rec := newMux(t, audit.MiddlewareConfig{}, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(c.method, "/patients/p-1", nil))
			evs := rec.Events()
			if w.Code != c.status || len(evs) != 1 {
				t.Fatalf("status %d, %d events", w.Code, len(evs))
			}
			e := evs[0]
			if e.Action != c.action || e.Outcome != c.outcome || e.Reason != c.reason || e.Attrs["status"] != fmt.Sprint(c.status) {
				t.Fatalf("got %s %s %q %v", e.Action, e.Outcome, e.Reason, e.Attrs)
			}
			if e.Actor != (audit.Actor{}) {
				t.Fatalf("anonymous request recorded actor %+v", e.Actor)
			}
		})
	}
}

// RouteActions records the routes it names with their action (a POST that
// searches is a query) and every other request by its method.
func TestMiddlewareRouteActions(t *testing.T) {
	routes := map[string]audit.Action{"POST /patients/search": audit.ActionQuery}
	rec := &audittest.Memory{}
	mw, err := audit.Middleware(audit.MiddlewareConfig{Writer: rec, Actor: mwActor, Clock: clock.NewFake(mwStart),
		Subject: func(*http.Request) string { return "" }, Action: audit.RouteActions(routes)})
	if err != nil {
		t.Fatal(err)
	}
	routes["POST /patients"] = audit.ActionQuery // a later change of the map does not count
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {}
	mux.HandleFunc("POST /patients/search", ok)
	mux.HandleFunc("POST /patients", ok)
	mux.HandleFunc("GET /patients", ok)
	h := mw(mux)
	for _, req := range [][2]string{{"POST", "/patients/search"}, {"POST", "/patients"}, {"GET", "/patients"}} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req[0], req[1], nil))
	}
	got := rec.Actions()
	want := []audit.Action{audit.ActionQuery, audit.ActionCreate, audit.ActionRead}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if a := audit.ActionForMethod(httptest.NewRequest("PATCH", "/x", nil)); a != audit.ActionUpdate {
		t.Fatalf("PATCH: %s", a)
	}
}

// PHI in the path or the query string never reaches the event.
func TestMiddlewareCanaryPathAndQuery(t *testing.T) {
	const canary = "999-00-1234-CANARY"
	h, rec := newMux(t, audit.MiddlewareConfig{
		// A subject resolver that behaves: an opaque ID, not the path.
		Subject: func(*http.Request) string { return "subj-1" },
	}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	})
	for _, target := range []string{
		"/patients/" + canary,
		"/patients/p-1?ssn=" + canary,
		"/patients/p-1?q=%22" + canary + "%22&name=Jane+Doe",
		"/nope/" + canary,
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	}
	evs := rec.Events()
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b) + fmt.Sprintf("%v %+v %#v", e, e, e)
		if strings.Contains(text, canary) || strings.Contains(text, "Jane") {
			t.Fatalf("PHI leaked into event: %s", b)
		}
		if e.Origin.Route != "/patients/{id}" && e.Origin.Route != "" {
			t.Fatalf("route %q is not a pattern", e.Origin.Route)
		}
	}
}

var errDiskGone = errors.New("disk gone")

// When the audit write fails, the client gets 503 and none of the handler's
// output: no audit, no access.
func TestMiddlewareFailsClosed(t *testing.T) {
	const secret = "PHI-BODY-CANARY"
	handlers := map[string]http.HandlerFunc{
		"write": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Patient-Name", secret)
			w.Header().Set("Location", "/patients/"+secret)
			n, err := io.WriteString(w, secret)
			if n != 0 || !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("handler write after refusal: %d, %v", n, err)
			}
		},
		"writeheader": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			if _, err := io.WriteString(w, secret); !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("write: %v", err)
			}
		},
		"silent": func(w http.ResponseWriter, r *http.Request) {},
		"flush": func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("flush: %v", err)
			}
			w.(http.Flusher).Flush()
			io.WriteString(w, secret)
		},
		"readfrom": func(w http.ResponseWriter, r *http.Request) {
			if _, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader(secret)); !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("readfrom: %v", err)
			}
		},
	}
	for name, hf := range handlers {
		t.Run(name, func(t *testing.T) {
			rec := &audittest.Memory{}
			rec.FailWith(errDiskGone)
			h, _ := newMux(t, audit.MiddlewareConfig{Writer: rec}, hf)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/patients/p-1", nil))
			if w.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", w.Code)
			}
			all := fmt.Sprint(w.Header()) + w.Body.String()
			if strings.Contains(all, secret) {
				t.Fatalf("response leaked handler output: %s", all)
			}
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		})
	}
}

// The event is durable before the first byte is sent.
func TestMiddlewareRecordsBeforeSending(t *testing.T) {
	var sentBeforeRecord bool
	w := httptest.NewRecorder()
	rec := &audittest.Memory{}
	check := audit.WriterFunc(func(ctx context.Context, e audit.Event) error {
		if w.Code != 200 || w.Body.Len() > 0 || w.Flushed {
			sentBeforeRecord = true
		}
		return rec.Write(ctx, e)
	})
	h, _ := newMux(t, audit.MiddlewareConfig{Writer: check}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.(http.Flusher).Flush()
		io.WriteString(w, "chunk")
	})
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/patients/p-1", nil))
	if sentBeforeRecord {
		t.Fatal("response left before the event was recorded")
	}
	if w.Code != http.StatusAccepted || !w.Flushed || w.Body.String() != "chunk" || len(rec.Events()) != 1 {
		t.Fatalf("code %d flushed %v body %q events %d", w.Code, w.Flushed, w.Body.String(), len(rec.Events()))
	}
}

func TestMiddlewareWriteDetachedFromClientCancel(t *testing.T) {
	var gotErr error
	wr := audit.WriterFunc(func(ctx context.Context, e audit.Event) error {
		gotErr = ctx.Err()
		if _, ok := ctx.Deadline(); !ok {
			t.Error("audit write has no deadline")
		}
		return nil
	})
	h, _ := newMux(t, audit.MiddlewareConfig{Writer: wr}, func(w http.ResponseWriter, r *http.Request) {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/patients/p-1", nil).WithContext(ctx))
	if gotErr != nil || w.Code != 200 {
		t.Fatalf("write saw %v, status %d", gotErr, w.Code)
	}
}

func TestMiddlewarePanicRecorded(t *testing.T) {
	h, rec := newMux(t, audit.MiddlewareConfig{}, func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("panic not propagated: %v", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/patients/p-1", nil))
	}()
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Outcome != audit.OutcomeFailure || evs[0].Reason != "panic" || evs[0].Attrs["status"] != "500" {
		t.Fatalf("events %+v", evs)
	}
}

func TestMiddlewareInformationalAndHijack(t *testing.T) {
	rec := &audittest.Memory{}
	mw, err := audit.Middleware(audit.MiddlewareConfig{Writer: rec, Actor: mwActor,
		Subject: func(*http.Request) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		if n := len(rec.Events()); n != 0 {
			t.Errorf("1xx recorded: %d", n)
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
		brw.Flush()
	})
	srv := httptest.NewServer(mw(mux))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode == http.StatusEarlyHints {
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Attrs["status"] != "101" || evs[0].Origin.Route != "GET /ws" || evs[0].Origin.ClientIP != "127.0.0.1" {
		t.Fatalf("events %+v", evs)
	}
}

func TestMiddlewareConfigErrors(t *testing.T) {
	subj := func(*http.Request) string { return "" }
	for name, cfg := range map[string]audit.MiddlewareConfig{
		"no writer":        {Actor: mwActor, Subject: subj},
		"no actor":         {Writer: audit.Discard{}, Subject: subj},
		"no subject":       {Writer: audit.Discard{}, Actor: mwActor},
		"negative timeout": {Writer: audit.Discard{}, Actor: mwActor, Subject: subj, WriteTimeout: -1},
	} {
		if _, err := audit.Middleware(cfg); !errors.Is(err, audit.ErrMiddlewareConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPeerIPIgnoresHeaders(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:1234":             "192.0.2.1",
		"[2001:db8::1]:443":          "2001:db8::1",
		"[::ffff:192.0.2.5]:80":      "192.0.2.5",
		"[fe80::1%eth0]:80":          "fe80::1",
		"192.0.2.1":                  "192.0.2.1",
		"garbage\n{\"forged\":true}": "",
		"":                           "",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-Forwarded-For", "6.6.6.6")
		r.Header.Set("X-Real-IP", "6.6.6.6")
		if got := audit.PeerIP(r); got != want {
			t.Errorf("PeerIP(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	ext, err := audit.TrustedProxies("10.0.0.0/8", "192.0.2.7", "2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.1:1", []string{"6.6.6.6"}, "203.0.113.1"},                       // untrusted peer: header ignored
		{"10.1.2.3:1", nil, "10.1.2.3"},                                             // trusted peer, no header
		{"10.1.2.3:1", []string{"198.51.100.4"}, "198.51.100.4"},                    // one hop
		{"10.1.2.3:1", []string{"6.6.6.6, 198.51.100.4, 10.9.9.9"}, "198.51.100.4"}, // spoofed left entry ignored
		{"192.0.2.7:1", []string{"6.6.6.6", "198.51.100.4"}, "198.51.100.4"},        // several header lines
		{"10.1.2.3:1", []string{"not-an-ip, 10.0.0.5"}, "10.0.0.5"},                 // malformed entry stops the walk
		{"10.1.2.3:1", []string{"\"><script>"}, "10.1.2.3"},
		{"[2001:db8::5]:1", []string{"2001:db8::6, 2a00::1"}, "2a00::1"},
		{"10.1.2.3:1", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"}, // all trusted: the furthest trusted hop
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ext(r); got != c.want {
			t.Errorf("peer %s xff %q: %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
	for _, bad := range [][]string{nil, {"10.0.0.0/33"}, {"nonsense-CANARY"}} {
		_, err := audit.TrustedProxies(bad...)
		if !errors.Is(err, audit.ErrInvalidCIDR) {
			t.Errorf("%q: %v", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "CANARY") {
			t.Errorf("error echoes input: %v", err)
		}
	}
}

func ExampleMiddleware() {
	// In a service, Writer is the durable audit writer, and Actor comes from
	// the auth package's session middleware.
	var trail []audit.Event
	writer := audit.WriterFunc(func(_ context.Context, e audit.Event) error {
		trail = append(trail, e)
		return nil
	})
	mw, err := audit.Middleware(audit.MiddlewareConfig{
		Writer:  writer,
		Actor:   func(r *http.Request) (audit.Actor, bool) { return audit.Actor{UserID: "u-7", Role: "nurse"}, true },
		Subject: func(r *http.Request) string { return r.PathValue("id") },
		Purpose: func(r *http.Request) string { return "treatment" },
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /patients/{id}", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "chart")
	})))

	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/patients/p-42?name=Jane", nil))
	e := trail[0]
	fmt.Println(e.Actor.UserID, e.Action, e.Outcome, e.Target.Subject, e.Origin.Route, e.Attrs["status"])
	// Output: u-7 read success p-42 GET /patients/{id} 200
}

var benchBody = []byte(`{"id":"p-1","chart":"..."}`)

func benchHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(benchBody)
}

// discardRW is a ResponseWriter that allocates nothing per request.
type discardRW struct{ h http.Header }

func (d *discardRW) Header() http.Header         { return d.h }
func (d *discardRW) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardRW) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/patients/p-1?x=1", nil)
	req = withActor(req, audit.Actor{UserID: "u-1", Role: "nurse"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardRW{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkMiddleware measures the middleware's own cost (resolvers, event
// building, response wrapping, the detached write context) with a Writer
// that accepts at once, beside its baseline in the same run: the same
// request through the same ServeMux and handler without the middleware.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /patients/{id}", benchHandler)
		benchServe(b, mux)
	})
	b.Run("audited", func(b *testing.B) {
		mw, err := audit.Middleware(audit.MiddlewareConfig{
			Writer:  audit.Discard{},
			Actor:   mwActor,
			Subject: func(r *http.Request) string { return r.PathValue("id") },
		})
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /patients/{id}", mw(http.HandlerFunc(benchHandler)))
		benchServe(b, mux)
	})
}

// A service behind a load balancer at 10.0.0.0/8 names that network; the
// forwarded address is believed only from it.
func ExampleTrustedProxies() {
	clientIP, err := audit.TrustedProxies("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	viaProxy := httptest.NewRequest(http.MethodGet, "/", nil)
	viaProxy.RemoteAddr = "10.1.2.3:5555"
	viaProxy.Header.Set("X-Forwarded-For", "203.0.113.50")
	direct := httptest.NewRequest(http.MethodGet, "/", nil)
	direct.RemoteAddr = "198.51.100.7:4444"
	direct.Header.Set("X-Forwarded-For", "203.0.113.50") // spoofed
	fmt.Println(clientIP(viaProxy), clientIP(direct), audit.PeerIP(viaProxy))
	// Output: 203.0.113.50 198.51.100.7 10.1.2.3
}
