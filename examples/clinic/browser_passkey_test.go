package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/clock"
)

// passkeyJS are the page-side ceremonies the test runs in Chromium through
// the clinic's JSON endpoints: the browser's own WebAuthn implementation,
// backed by the DevTools virtual authenticator, talks to the server.
const passkeyJS = `
window.hk = {
  async post(path, body, csrf) {
    const h = {"Content-Type": "application/json"};
    if (csrf) h["X-CSRF-Token"] = csrf;
    const r = await fetch("/api/auth" + path, {method: "POST", headers: h, body: JSON.stringify(body), credentials: "same-origin"});
    const text = await r.text();
    return {status: r.status, body: text ? JSON.parse(text) : null};
  },
  async login(name, password, code) {
    const r = await hk.post("/login", {tenant_id: %q, name, password, totp_code: code});
    hk.csrf = r.body && r.body.csrf_token;
    return r.status;
  },
  async register(name) {
    const b = await hk.post("/passkeys/register/begin", {}, hk.csrf);
    if (b.status !== 200) return "begin " + b.status;
    const opts = PublicKeyCredential.parseCreationOptionsFromJSON(b.body.options.publicKey);
    const cred = await navigator.credentials.create({publicKey: opts});
    const f = await hk.post("/passkeys/register/finish", {name, credential: cred.toJSON()}, hk.csrf);
    return f.status === 200 ? "ok" : "finish " + f.status + " " + JSON.stringify(f.body);
  },
  async logout() { return (await hk.post("/logout", {}, hk.csrf)).status; },
  async passkeyLogin() {
    const b = await hk.post("/login/passkey/begin", {});
    if (b.status !== 200) return "begin " + b.status;
    const opts = PublicKeyCredential.parseRequestOptionsFromJSON(b.body.options.publicKey);
    const cred = await navigator.credentials.get({publicKey: opts});
    const f = await hk.post("/login/passkey/finish", {credential: cred.toJSON()});
    if (f.status !== 200) return "finish " + f.status + " " + JSON.stringify(f.body);
    hk.csrf = f.body.csrf_token;
    const s = await fetch("/api/auth/session", {credentials: "same-origin"});
    return s.status === 200 ? "ok" : "session " + s.status;
  },
};
true`

// TestBrowserPasskeyRegisterAndLogin registers a passkey in real Chromium
// (a DevTools virtual platform authenticator with user verification),
// logs out, and logs in again with the passkey alone (discoverable
// credential); the server's session is then valid. The page is served on
// http://localhost (a secure context), the relying party ID "localhost".
func TestBrowserPasskeyRegisterAndLogin(t *testing.T) {
	browser := chromiumPath(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	clk := clock.NewFake(time.Now().UTC())
	cfg := testConfig(t.TempDir())
	cfg.NoTLS, cfg.PasskeyRPID, cfg.PasskeyOrigins = true, "localhost", []string{origin}
	a, err := openApp(context.Background(), cfg, clk, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	seeded, err := a.seed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc demoUser
	for _, u := range seeded {
		if u.Role == rolePhysician {
			doc = u
		}
	}
	h, err := a.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()
	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/login"), chromedp.WaitVisible("#login-form")); err != nil {
		t.Fatalf("open the login page: %v", err)
	}
	addAuthenticator := chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
				Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return chromedp.Void{}, err
	})
	if err := chromedp.Do(ctx, addAuthenticator); err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return fmt.Sprint(v)
	}
	eval("install the page helpers", fmt.Sprintf(passkeyJS, demoTenant))
	tc := &testClinic{t: t, clock: clk}
	if got := eval("password and TOTP login", fmt.Sprintf(`hk.login(%q, %q, %q)`, doc.Name, doc.Password, tc.code(doc))); got != "200" {
		t.Fatalf("login: %s", got)
	}
	if got := eval("register a passkey", `hk.register("headless chromium")`); got != "ok" {
		t.Fatalf("register: %s", got)
	}
	if got := eval("log out", `hk.logout()`); got != "204" && got != "200" {
		t.Fatalf("logout: %s", got)
	}
	if got := eval("passwordless login with the passkey", `hk.passkeyLogin()`); got != "ok" {
		t.Fatalf("passkey login: %s", got)
	}
}
