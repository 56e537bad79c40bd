package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hipaakit/hipaakit/auth/password"
	"github.com/hipaakit/hipaakit/clock"
)

// testClinic is a clinic served over TLS by httptest, on embedded stores in a
// temporary directory or on PostgreSQL (stores_test.go), with a fake clock
// the test moves.
type testClinic struct {
	t     *testing.T
	app   *app
	srv   *httptest.Server
	clock *clock.Fake
	users map[string]demoUser // by role
	dir   string
	logs  *bytes.Buffer
}

func testConfig(dir string) config {
	return config{Addr: "127.0.0.1:0", DataDir: dir, IdleTimeout: 15 * time.Minute, Absolute: 12 * time.Hour, Seed: true,
		argon2: testArgon2}
}

// testArgon2 are the cheapest password-hashing parameters the hasher
// accepts (8 MiB, one pass): the default (19 MiB, two passes) made hashing
// more than half of the package's CPU time. The tests do not measure the
// hash's cost; the replica processes, started from flags, hash with the
// defaults.
var testArgon2 = password.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// startClinic opens the app on embedded stores in dir (a fresh one when
// empty) and seeds it.
func startClinic(t *testing.T, dir string, clk *clock.Fake, users map[string]demoUser) *testClinic {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return startClinicWith(t, testConfig(dir), clk, users)
}

// startClinicWith opens the app with cfg and seeds it unless users (from an
// earlier start on the same stores) are given.
func startClinicWith(t *testing.T, cfg config, clk *clock.Fake, users map[string]demoUser) *testClinic {
	t.Helper()
	if clk == nil {
		clk = clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	}
	return startClinicClock(t, cfg, clk, clk, users, nil)
}

// startClinicTicking is startClinicWith on a clock that also runs: the fake
// time plus the real time elapsed since the start, for tests that need
// durations measured inside one request (a restore drill's RTO).
func startClinicTicking(t *testing.T, cfg config) *testClinic {
	t.Helper()
	fake := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	t0 := time.Now()
	return startClinicClock(t, cfg, fake, clock.Func(func() time.Time { return fake.Now().Add(time.Since(t0)) }), nil, nil)
}

// startClinicClock opens the app on appClock; the test moves clk, which
// appClock must follow. prepare, when not nil, may alter the app before its
// handler is built and served.
func startClinicClock(t *testing.T, cfg config, clk *clock.Fake, appClock clock.Clock, users map[string]demoUser, prepare func(*app)) *testClinic {
	t.Helper()
	dir := cfg.DataDir
	logs := &bytes.Buffer{}
	a, err := openApp(context.Background(), cfg, appClock, logs)
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	if prepare != nil {
		prepare(a)
	}
	h, err := a.handler()
	if err != nil {
		t.Fatal(err)
	}
	tc := &testClinic{t: t, app: a, srv: httptest.NewTLSServer(h), clock: clk, users: users, dir: dir, logs: logs}
	t.Cleanup(tc.stop)
	if tc.users == nil {
		seeded, err := a.seed(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tc.users = map[string]demoUser{}
		for _, u := range seeded {
			tc.users[u.Name] = u
		}
	}
	return tc
}

func (tc *testClinic) stop() {
	if tc.srv != nil {
		tc.srv.Close()
		tc.srv = nil
		tc.app.Close()
	}
}

// client is one browser-like API client with its own cookies and CSRF token.
type client struct {
	tc   *testClinic
	hc   *http.Client
	csrf string
	role string
}

func (tc *testClinic) anon() *client {
	jar, _ := cookiejar.New(nil)
	hc := new(http.Client)
	*hc = *tc.srv.Client() // Client returns one shared value: copy it, so each user has its own jar
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{tc: tc, hc: hc}
}

// code returns the current TOTP code of a demo user. The clock moves one
// step first, since each code is accepted once.
func (tc *testClinic) code(u demoUser) string {
	tc.clock.Advance(30 * time.Second)
	c, err := totp.GenerateCodeCustom(u.TOTPSecret, tc.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		tc.t.Fatal(err)
	}
	return c
}

// login signs in as the demo user of role with password and TOTP.
func (tc *testClinic) login(role string) *client {
	tc.t.Helper()
	u, ok := tc.users[role]
	if !ok {
		tc.t.Fatalf("no demo user for role %s", role)
	}
	c := tc.anon()
	c.role = role
	var out struct {
		Status    string `json:"status"`
		CSRFToken string `json:"csrf_token"`
	}
	status := c.do("POST", "/api/auth/login", map[string]string{"tenant_id": demoTenant, "name": u.Name,
		"password": u.Password, "totp_code": tc.code(u)}, &out)
	if status != http.StatusOK || out.Status != "authenticated" {
		tc.t.Fatalf("login as %s: %d %+v", role, status, out)
	}
	c.csrf = out.CSRFToken
	return c
}

// do sends a JSON request and decodes a JSON answer into out (when not nil).
func (c *client) do(method, path string, body any, out any) int {
	c.tc.t.Helper()
	status, raw := c.raw(method, path, body)
	c.decode(method, path, raw, out)
	return status
}

func (c *client) decode(method, path string, raw []byte, out any) {
	c.tc.t.Helper()
	if out == nil || len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return
	}
	if err := json.Unmarshal(raw, out); err != nil {
		c.tc.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
	}
}

func (c *client) raw(method, path string, body any) (int, []byte) {
	c.tc.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.tc.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.tc.srv.URL+path, rd)
	if err != nil {
		c.tc.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tc.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// mustStatus sends the request once and fails the test unless it answers want.
func (c *client) mustStatus(want int, method, path string, body any, out any) {
	c.tc.t.Helper()
	got, raw := c.raw(method, path, body)
	if got != want {
		c.tc.t.Fatalf("%s %s as %s: status %d, want %d (%s)", method, path, c.role, got, want, strings.TrimSpace(string(raw)))
	}
	c.decode(method, path, raw, out)
}
