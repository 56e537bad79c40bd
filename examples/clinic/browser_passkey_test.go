package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/hipaakit/hipaakit/clock"
)

// TestBrowserPasskeyRegisterAndLogin registers a passkey from the account
// page in real Chromium (a DevTools virtual platform authenticator with
// user verification), logs out, signs in again with the passkey alone
// (discoverable credential) from the login page's button, and removes the
// passkey on the account page. The page is served on http://localhost (a
// secure context), the relying party ID "localhost".
func TestBrowserPasskeyRegisterAndLogin(t *testing.T) {
	t.Parallel()
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
	tc := &testClinic{t: t, app: a, clock: clk, users: map[string]demoUser{}}
	for _, u := range seeded {
		tc.users[u.Name] = u
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

	b := newBrowser(t, tc, origin)
	b.open("/login", "#login-form")
	b.do("virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
				Transport: cdpwebauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
	b.login(rolePhysician)
	b.open("/account", "#passkey-register")
	b.do("register a passkey", b.fill("#passkey-name", "headless chromium"), chromedp.Click("#passkey-add"))
	b.waitText("the passkey is listed", "#passkeys", "headless chromium")
	b.check("account-passkeys")
	b.logout()

	b.open("/login", "#passkey-login")
	b.do("passwordless sign-in with the passkey", chromedp.Click("#passkey-login"), chromedp.WaitVisible("#tasks"))
	if who := b.text("#whoami"); !strings.Contains(who, rolePhysician) {
		t.Fatalf("signed in with the passkey as %q", who)
	}
	b.open("/account", "#passkeys")
	b.do("remove the passkey", chromedp.Click("button.remove-passkey"))
	b.waitText("the passkey is gone", "#passkeys", "No passkeys yet.")
	u, err := a.d.Users.Get(context.Background(), tc.users[rolePhysician].ID)
	if err != nil || len(u.Passkeys) != 0 {
		t.Fatalf("the server still holds %d passkeys (%v)", len(u.Passkeys), err)
	}
}
